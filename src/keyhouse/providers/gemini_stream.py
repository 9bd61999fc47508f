"""``streamGenerateContent?alt=sse`` events → OpenAI chat completion chunks (pure)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from keyhouse.providers.gemini_answer import finish_reason, split_parts, usage

JSON = dict[str, Any]


class StreamConverter:
    """Turns ``streamGenerateContent?alt=sse`` events into OpenAI chunk dicts."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self._started: set[int] = set()
        self._finished: set[int] = set()
        self._tool_calls: dict[int, int] = {}
        self._usage: JSON | None = None

    def _chunk(self, index: int, delta: JSON, finish: str | None = None) -> JSON:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            ],
        }

    def _start(self, index: int, out: list[JSON]) -> None:
        if index not in self._started:
            self._started.add(index)
            out.append(self._chunk(index, {"role": "assistant", "content": ""}))

    def feed(self, event: JSON) -> list[JSON]:
        out: list[JSON] = []
        if event.get("usageMetadata"):
            self._usage = event["usageMetadata"]  # cumulative: the last one is the total
        candidates = event.get("candidates") or []
        if not candidates and (event.get("promptFeedback") or {}).get("blockReason"):
            self._start(0, out)
            self._finished.add(0)
            out.append(self._chunk(0, {}, "content_filter"))
        for position, candidate in enumerate(candidates):
            index = candidate.get("index", position)
            self._start(index, out)
            text, calls = split_parts(candidate)
            if text:
                out.append(self._chunk(index, {"content": text}))
            if calls:
                first = self._tool_calls.get(index, 0)
                self._tool_calls[index] = first + len(calls)
                out.append(
                    self._chunk(
                        index,
                        {
                            "tool_calls": [
                                {"index": first + n, **call} for n, call in enumerate(calls)
                            ]
                        },
                    )
                )
            reason = candidate.get("finishReason")
            if reason and index not in self._finished:
                self._finished.add(index)
                has_calls = self._tool_calls.get(index, 0) > 0
                out.append(self._chunk(index, {}, finish_reason(reason, has_calls)))
        return out

    def finish(self) -> list[JSON]:
        """The closing usage chunk (empty choices), when Google reported usage."""
        if self._usage is None:
            return []
        return [
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": usage(self._usage),
            }
        ]
