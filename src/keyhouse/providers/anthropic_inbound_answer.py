"""An OpenAI chat answer → Anthropic's Messages shape: the gateway's ``/v1/messages``
answers for cross-family targets (pure functions, no I/O).

The request came in through ``anthropic_inbound`` and was served as chat completions;
here the ChatCompletion becomes a Message, or its chunks the Messages SSE event
sequence. The whole answer and the stream share the stop reasons, the usage and the
ids, so both live here.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from keyhouse.usage.record import CACHE_WRITE

JSON = dict[str, Any]
Event = tuple[str, JSON]

STOP_REASONS: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def _arguments(raw: Any) -> JSON:
    try:
        value = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _message_id(openai_id: Any) -> str:
    if isinstance(openai_id, str) and openai_id.startswith("msg_"):
        return openai_id
    return f"msg_{uuid.uuid4().hex[:24]}"


def anthropic_usage(usage: JSON) -> JSON:
    """OpenAI usage as Anthropic usage, where input_tokens excludes the cache's reads
    and writes."""
    details = usage.get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens") or 0
    written = details.get(CACHE_WRITE) or 0
    return {
        "input_tokens": max(0, (usage.get("prompt_tokens") or 0) - cached - written),
        "output_tokens": usage.get("completion_tokens") or 0,
        "cache_creation_input_tokens": written,
        "cache_read_input_tokens": cached,
    }


def openai_to_anthropic_response(resp: JSON, model: str) -> JSON:
    """An OpenAI ChatCompletion as a Messages API Message."""
    choice = (resp.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    content: list[JSON] = []
    text = message.get("content")
    if isinstance(text, list):
        text = "".join(p.get("text", "") for p in text if p.get("type") == "text")
    if text:
        content.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id") or _tool_id(),
                "name": fn.get("name", ""),
                "input": _arguments(fn.get("arguments")),
            }
        )
    return {
        "id": _message_id(resp.get("id")),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": STOP_REASONS.get(choice.get("finish_reason") or "", "end_turn"),
        "stop_sequence": None,
        "usage": anthropic_usage(resp.get("usage") or {}),
    }


def _tool_id() -> str:
    return f"toolu_{uuid.uuid4().hex[:24]}"


class OpenAIStreamToAnthropic:
    """Turns chat.completion.chunk dicts into the Messages API SSE event sequence.

    ``feed`` each chunk and send the returned ``(event_type, data)`` pairs; call
    ``finish`` once the upstream stream ended (it closes the open block and sends
    ``message_delta`` with the stop reason and usage, then ``message_stop``).
    """

    def __init__(self, model: str) -> None:
        self.model = model
        self.id = f"msg_{uuid.uuid4().hex[:24]}"
        self._started = False
        self._finished = False
        self._open: int | None = None  # index of the open content block
        self._open_kind = ""
        self._blocks = 0
        self._tools: dict[int, int] = {}  # OpenAI tool_calls index → block index
        self._stop_reason: str | None = None
        self._usage: JSON = {"input_tokens": 0, "output_tokens": 0}

    def feed(self, chunk: JSON) -> list[Event]:
        events = self._start()
        if chunk.get("usage"):
            self._usage = anthropic_usage(chunk["usage"])
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue  # n > 1 has no Anthropic equivalent
            delta = choice.get("delta") or {}
            if delta.get("content"):
                if self._open_kind != "text":
                    events += self._open_block({"type": "text", "text": ""}, "text")
                events.append(_delta(self._open, {"type": "text_delta", "text": delta["content"]}))
            for call in delta.get("tool_calls") or []:
                events += self._tool_delta(call)
            if choice.get("finish_reason"):
                self._stop_reason = STOP_REASONS.get(choice["finish_reason"], "end_turn")
        return events

    def finish(self) -> list[Event]:
        """The closing events; safe to call more than once."""
        if self._finished:
            return []
        self._finished = True
        events = self._start() + self._close_block()
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {
                        "stop_reason": self._stop_reason or "end_turn",
                        "stop_sequence": None,
                    },
                    "usage": self._usage,
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        return events

    @staticmethod
    def error(message: str, kind: str = "api_error") -> Event:
        """An ``error`` event, for a failure after the stream has begun."""
        return ("error", {"type": "error", "error": {"type": kind, "message": message}})

    def _start(self) -> list[Event]:
        if self._started:
            return []
        self._started = True
        return [
            (
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": self.id,
                        "type": "message",
                        "role": "assistant",
                        "model": self.model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": 0, "output_tokens": 0},
                    },
                },
            )
        ]

    def _tool_delta(self, call: JSON) -> list[Event]:
        events: list[Event] = []
        position = call.get("index", 0)
        fn = call.get("function") or {}
        if position not in self._tools:
            events += self._open_block(
                {
                    "type": "tool_use",
                    "id": call.get("id") or _tool_id(),
                    "name": fn.get("name", ""),
                    "input": {},
                },
                "tool_use",
            )
            self._tools[position] = self._blocks - 1
        if fn.get("arguments"):
            events.append(
                _delta(
                    self._tools[position],
                    {"type": "input_json_delta", "partial_json": fn["arguments"]},
                )
            )
        return events

    def _open_block(self, block: JSON, kind: str) -> list[Event]:
        events = self._close_block()
        self._open, self._open_kind = self._blocks, kind
        self._blocks += 1
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": self._open, "content_block": block},
            )
        )
        return events

    def _close_block(self) -> list[Event]:
        if self._open is None:
            return []
        index, self._open, self._open_kind = self._open, None, ""
        return [("content_block_stop", {"type": "content_block_stop", "index": index})]


def _delta(index: int | None, delta: JSON) -> Event:
    return ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
