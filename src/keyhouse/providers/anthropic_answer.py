"""A Messages API answer → OpenAI's chat shape (pure functions, no I/O): the whole
answer as a ChatCompletion, its SSE events as chat.completion.chunk dicts.

The answer half of chat completions on Claude (Anthropic, and Claude on Vertex AI): the
request went out through ``anthropic_convert``; reading the event stream off the wire is
``anthropic_stream``'s. The whole answer and the stream share the finish reasons and the
usage, so both converters live here.
"""

from __future__ import annotations

import json
import time
from typing import Any

from keyhouse.usage.record import CACHE_WRITE

JSON = dict[str, Any]

FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def openai_usage(usage: JSON) -> JSON:
    """Anthropic usage (``input_tokens`` excludes the cache's reads and writes) as the
    OpenAI usage every record reads: prompt tokens are all of them, reads are
    ``cached_tokens`` and writes ``cache_write_tokens`` (``usage.record`` says why)."""
    cache_read = usage.get("cache_read_input_tokens") or 0
    cache_write = usage.get("cache_creation_input_tokens") or 0
    prompt = (usage.get("input_tokens") or 0) + cache_read + cache_write
    completion = usage.get("output_tokens") or 0
    out: JSON = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cache_read or cache_write:
        out["prompt_tokens_details"] = {"cached_tokens": cache_read}
        if cache_write:
            out["prompt_tokens_details"][CACHE_WRITE] = cache_write
    return out


def openai_tool_call(block: JSON) -> JSON:
    """An Anthropic ``tool_use`` block as an OpenAI tool call (an answer's, or an
    assistant turn's in a Messages request)."""
    return {
        "id": block.get("id", ""),
        "type": "function",
        "function": {
            "name": block.get("name", ""),
            "arguments": json.dumps(block.get("input") or {}, ensure_ascii=False),
        },
    }


def anthropic_to_openai_response(resp: JSON, model: str) -> JSON:
    """A Messages API answer as an OpenAI ChatCompletion."""
    texts: list[str] = []
    thinking: list[str] = []
    tool_calls: list[JSON] = []
    for block in resp.get("content") or []:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "tool_use":
            tool_calls.append(openai_tool_call(block))
        elif kind == "thinking":
            thinking.append(block.get("thinking", ""))
    message: JSON = {
        "role": "assistant",
        "content": "".join(texts) if texts or not tool_calls else None,
    }
    if tool_calls:
        message["tool_calls"] = tool_calls
    if thinking:
        # The field DeepSeek and most gateways use for reasoning text.
        message["reasoning_content"] = "".join(thinking)
    return {
        "id": resp.get("id", ""),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": FINISH_REASONS.get(resp.get("stop_reason") or "", "stop"),
            }
        ],
        "usage": openai_usage(resp.get("usage") or {}),
    }


class AnthropicStreamToOpenAI:
    """Turns Messages API stream events into chat.completion.chunk dicts.

    Feed each ``(event_type, data)`` pair; ``done`` turns true at ``message_stop``, whose
    chunk carries the usage.
    """

    def __init__(self, model: str) -> None:
        self.model = model
        self.id = ""
        self.created = int(time.time())
        self.done = False
        self._usage: JSON = {}
        self._tools: dict[int, int] = {}  # Anthropic block index → OpenAI tool_calls index

    def feed(self, event: str, data: JSON) -> list[JSON]:
        kind = data.get("type") or event
        if kind == "message_start":
            message = data.get("message") or {}
            self.id = message.get("id") or self.id
            self._usage = dict(message.get("usage") or {})
            return [self._chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            return self._block_start(data.get("index", 0), data.get("content_block") or {})
        if kind == "content_block_delta":
            return self._delta(data.get("index", 0), data.get("delta") or {})
        if kind == "message_delta":
            # message_delta usage counts are cumulative, so the latest value wins.
            self._usage.update(
                {k: v for k, v in (data.get("usage") or {}).items() if v is not None}
            )
            reason = (data.get("delta") or {}).get("stop_reason")
            return [self._chunk({}, FINISH_REASONS.get(reason, "stop"))] if reason else []
        if kind == "message_stop":
            self.done = True
            return [{**self._head(), "choices": [], "usage": openai_usage(self._usage)}]
        return []  # ping, content_block_stop, and event types added later

    def _block_start(self, index: int, block: JSON) -> list[JSON]:
        if block.get("type") == "tool_use":
            position = self._tools[index] = len(self._tools)
            arguments = json.dumps(block["input"]) if block.get("input") else ""
            return [
                self._chunk(
                    {
                        "tool_calls": [
                            {
                                "index": position,
                                "id": block.get("id", ""),
                                "type": "function",
                                "function": {"name": block.get("name", ""), "arguments": arguments},
                            }
                        ]
                    }
                )
            ]
        if block.get("type") == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        return []

    def _delta(self, index: int, delta: JSON) -> list[JSON]:
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [self._chunk({"content": delta["text"]})]
        if kind == "input_json_delta" and delta.get("partial_json") and index in self._tools:
            return [
                self._chunk(
                    {
                        "tool_calls": [
                            {
                                "index": self._tools[index],
                                "function": {"arguments": delta["partial_json"]},
                            }
                        ]
                    }
                )
            ]
        if kind == "thinking_delta" and delta.get("thinking"):
            return [self._chunk({"reasoning_content": delta["thinking"]})]
        return []

    def _head(self) -> JSON:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }

    def _chunk(self, delta: JSON, finish_reason: str | None = None) -> JSON:
        return {
            **self._head(),
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
