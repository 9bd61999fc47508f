"""Pure conversions from Amazon Bedrock's Converse answers (whole, and ConverseStream's
events) to OpenAI's ChatCompletion and its chunks."""

from __future__ import annotations

import json
from typing import Any

from keyhouse.usage.record import CACHE_WRITE

JSON = dict[str, Any]

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
}


def finish_reason(stop_reason: str | None) -> str | None:
    if stop_reason is None:
        return None
    return _FINISH.get(stop_reason, "stop")


def usage(raw: JSON) -> JSON:
    """Converse TokenUsage → OpenAI usage. Converse counts the cache's reads and writes
    apart from ``inputTokens``; ``prompt_tokens`` includes both (``usage.record``)."""
    cache_read = int(raw.get("cacheReadInputTokens") or 0)
    cache_write = int(raw.get("cacheWriteInputTokens") or 0)
    prompt = int(raw.get("inputTokens") or 0) + cache_read + cache_write
    completion = int(raw.get("outputTokens") or 0)
    out: JSON = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": int(raw.get("totalTokens") or prompt + completion),
    }
    if cache_read or cache_write:
        out["prompt_tokens_details"] = {"cached_tokens": cache_read}
        if cache_write:
            out["prompt_tokens_details"][CACHE_WRITE] = cache_write
    return out


def chat_response(data: JSON, model: str, response_id: str, created: int) -> JSON:
    """A Converse response → an OpenAI ChatCompletion."""
    content = ((data.get("output") or {}).get("message") or {}).get("content") or []
    texts, reasoning, tool_calls = [], [], []
    for block in content:
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            tool_calls.append(
                {
                    "id": use.get("toolUseId"),
                    "type": "function",
                    "function": {
                        "name": use.get("name"),
                        "arguments": json.dumps(use.get("input") or {}),
                    },
                }
            )
        elif "reasoningContent" in block:
            reasoning.append((block["reasoningContent"].get("reasoningText") or {}).get("text", ""))
    message: JSON = {"role": "assistant", "content": "".join(texts) if texts else None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    result: JSON = {
        "id": response_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason(data.get("stopReason")) or "stop",
            }
        ],
    }
    if data.get("usage"):
        result["usage"] = usage(data["usage"])
    return result


class ChatStreamConverter:
    """Turns ConverseStream events into ``chat.completion.chunk`` dicts, one event at a
    time. Tool-use blocks are numbered in order of appearance, as OpenAI's ``index``."""

    def __init__(self, model: str, response_id: str, created: int) -> None:
        self.model, self.id, self.created = model, response_id, created
        self._tool_index: dict[int, int] = {}

    def _chunk(self, delta: JSON, finish: str | None = None) -> JSON:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }

    def feed(self, event: str, payload: JSON) -> list[JSON]:
        if event == "messageStart":
            return [self._chunk({"role": payload.get("role", "assistant"), "content": ""})]
        if event == "contentBlockStart":
            use = (payload.get("start") or {}).get("toolUse")
            if not use:
                return []
            index = self._tool_index.setdefault(
                int(payload.get("contentBlockIndex", 0)), len(self._tool_index)
            )
            return [
                self._chunk(
                    {
                        "tool_calls": [
                            {
                                "index": index,
                                "id": use.get("toolUseId"),
                                "type": "function",
                                "function": {"name": use.get("name"), "arguments": ""},
                            }
                        ]
                    }
                )
            ]
        if event == "contentBlockDelta":
            return self._delta(int(payload.get("contentBlockIndex", 0)), payload.get("delta") or {})
        if event == "messageStop":
            return [self._chunk({}, finish_reason(payload.get("stopReason")) or "stop")]
        if event == "metadata" and payload.get("usage"):
            chunk = self._chunk({})
            chunk["choices"] = []
            chunk["usage"] = usage(payload["usage"])
            return [chunk]
        return []  # contentBlockStop, metrics-only metadata, events added later by AWS

    def _delta(self, block: int, delta: JSON) -> list[JSON]:
        if delta.get("text"):
            return [self._chunk({"content": delta["text"]})]
        if "toolUse" in delta:
            fragment = (delta["toolUse"] or {}).get("input") or ""
            index = self._tool_index.setdefault(block, len(self._tool_index))
            if fragment:
                return [
                    self._chunk(
                        {"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}
                    )
                ]
        reasoning = (delta.get("reasoningContent") or {}).get("text")
        if reasoning:
            return [self._chunk({"reasoning_content": reasoning})]
        return []
