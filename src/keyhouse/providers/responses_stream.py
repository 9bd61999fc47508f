"""Chat completion chunks → the Responses API's streaming events (pure, no I/O).

The sequence OpenAI sends, and the ``openai`` SDK and Codex CLI parse:
``response.created``, ``response.in_progress``, then per output item
``response.output_item.added`` … its deltas … ``response.output_item.done`` (a message
adds ``response.content_part.added`` / ``response.output_text.delta`` /
``response.output_text.done`` / ``response.content_part.done``; a function call
``response.function_call_arguments.delta`` / ``.done``; reasoning text
``response.reasoning_text.delta`` / ``.done``), and last ``response.completed`` (or
``response.incomplete``) carrying the whole Response with usage. Every event has a
``sequence_number`` counting from 0.
"""

from __future__ import annotations

import time
from typing import Any

from keyhouse.providers.responses_answer import (
    call_item,
    finish,
    message_item,
    new_id,
    reasoning_item,
    response_object,
)
from keyhouse.providers.responses_request import tool_index

JSON = dict[str, Any]


class _Item:
    """An output item being streamed: its index, id and what it has gathered so far."""

    def __init__(self, kind: str, index: int, item_id: str) -> None:
        self.kind = kind
        self.index = index
        self.id = item_id
        self.text = ""
        self.call_id = ""
        self.name = ""
        self.chat_name = ""


class ChatStreamToResponses:
    def __init__(self, request: JSON, model: str) -> None:
        self.request = request
        self.response = response_object(request, model, new_id("resp"), int(time.time()))
        self._tools = tool_index(request)
        self._seq = 0
        self._started = False
        self._finished = False
        self._items: list[_Item] = []
        self._open: _Item | None = None  # the message or reasoning item receiving text
        self._calls: dict[int, _Item] = {}  # chat tool_calls index → open call item
        self._finish_reason: str | None = None
        self._usage: JSON | None = None

    # --- the interface ----------------------------------------------------------------

    def feed(self, chunk: JSON) -> list[JSON]:
        events = self._start()
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content")
            if isinstance(reasoning, str) and reasoning:
                events += self._text("reasoning", reasoning)
            if delta.get("content"):
                events += self._text("message", delta["content"])
            for call in delta.get("tool_calls") or []:
                events += self._call_delta(call)
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
        return events

    def finish(self) -> list[JSON]:
        """The closing events; safe to call more than once."""
        if self._finished:
            return []
        self._finished = True
        events = self._start() + self._close_text()
        for index in sorted(self._calls):
            events += self._close_call(self._calls[index])
        self._calls.clear()
        order = {item.id: item.index for item in self._items}
        self.response["output"].sort(key=lambda o: order.get(o["id"], 0))
        response = finish(self.response, self._finish_reason, self._usage)
        kind = "response.completed" if response["status"] == "completed" else "response.incomplete"
        events.append(self._event(kind, response=response))
        return events

    # --- events -----------------------------------------------------------------------

    def _event(self, kind: str, **fields: Any) -> JSON:
        event = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return event

    def _snapshot(self) -> JSON:
        return {**self.response, "output": list(self.response["output"])}

    def _start(self) -> list[JSON]:
        if self._started:
            return []
        self._started = True
        return [
            self._event("response.created", response=self._snapshot()),
            self._event("response.in_progress", response=self._snapshot()),
        ]

    def _new_item(self, kind: str, prefix: str) -> _Item:
        item = _Item(kind, len(self._items), new_id(prefix))
        self._items.append(item)
        return item

    def _text(self, kind: str, text: str) -> list[JSON]:
        events: list[JSON] = []
        if self._open is None or self._open.kind != kind:
            events += self._close_text()
            item = self._new_item(kind, "msg" if kind == "message" else "rs")
            self._open = item
            if kind == "message":
                added = message_item("", item.id, "in_progress")
                added["content"] = []
                events.append(
                    self._event("response.output_item.added", output_index=item.index, item=added)
                )
                events.append(
                    self._event(
                        "response.content_part.added",
                        item_id=item.id,
                        output_index=item.index,
                        content_index=0,
                        part={"type": "output_text", "text": "", "annotations": [], "logprobs": []},
                    )
                )
            else:
                added = {**reasoning_item("", item.id), "content": []}
                events.append(
                    self._event("response.output_item.added", output_index=item.index, item=added)
                )
        item = self._open
        item.text += text
        if kind == "message":
            events.append(
                self._event(
                    "response.output_text.delta",
                    item_id=item.id,
                    output_index=item.index,
                    content_index=0,
                    delta=text,
                    logprobs=[],
                )
            )
        else:
            events.append(
                self._event(
                    "response.reasoning_text.delta",
                    item_id=item.id,
                    output_index=item.index,
                    content_index=0,
                    delta=text,
                )
            )
        return events

    def _close_text(self) -> list[JSON]:
        item, self._open = self._open, None
        if item is None:
            return []
        if item.kind == "reasoning":
            done = reasoning_item(item.text, item.id)
            events = [
                self._event(
                    "response.reasoning_text.done",
                    item_id=item.id,
                    output_index=item.index,
                    content_index=0,
                    text=item.text,
                )
            ]
        else:
            done = message_item(item.text, item.id)
            part = done["content"][0]
            events = [
                self._event(
                    "response.output_text.done",
                    item_id=item.id,
                    output_index=item.index,
                    content_index=0,
                    text=item.text,
                    logprobs=[],
                ),
                self._event(
                    "response.content_part.done",
                    item_id=item.id,
                    output_index=item.index,
                    content_index=0,
                    part=part,
                ),
            ]
        self.response["output"].append(done)
        events.append(self._event("response.output_item.done", output_index=item.index, item=done))
        return events

    def _call_delta(self, call: JSON) -> list[JSON]:
        events: list[JSON] = []
        position = call.get("index", 0)
        fn = call.get("function") or {}
        item = self._calls.get(position)
        if item is None:
            events += self._close_text()
            name = fn.get("name") or ""
            ref = self._tools.get(name)
            custom = ref is not None and ref.custom
            item = self._new_item("custom" if custom else "function", "ctc" if custom else "fc")
            item.call_id = call.get("id") or new_id("call")
            item.chat_name = name
            item.name = ref.name if ref is not None else name
            self._calls[position] = item
            added = call_item(item.call_id, name, "", self._tools, item.id, "in_progress")
            if custom:
                added["input"] = ""
            events.append(
                self._event("response.output_item.added", output_index=item.index, item=added)
            )
        arguments = fn.get("arguments")
        if arguments:
            item.text += arguments
            # A custom tool's input only exists once its JSON wrapper is whole, so its
            # delta events would not be the input's text: it is sent whole at the end.
            if item.kind == "function":
                events.append(
                    self._event(
                        "response.function_call_arguments.delta",
                        item_id=item.id,
                        output_index=item.index,
                        delta=arguments,
                    )
                )
        return events

    def _close_call(self, item: _Item) -> list[JSON]:
        custom = item.kind == "custom"
        done = call_item(item.call_id, item.chat_name, item.text, self._tools, item.id)
        if custom:
            events = [
                self._event(
                    "response.custom_tool_call_input.delta",
                    item_id=item.id,
                    output_index=item.index,
                    delta=done["input"],
                ),
                self._event(
                    "response.custom_tool_call_input.done",
                    item_id=item.id,
                    output_index=item.index,
                    input=done["input"],
                ),
            ]
        else:
            events = [
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item.id,
                    output_index=item.index,
                    name=item.name,
                    arguments=item.text,
                )
            ]
        self.response["output"].append(done)
        events.append(self._event("response.output_item.done", output_index=item.index, item=done))
        return events


def failure_events(
    last_sequence: int, response: JSON | None, code: str, message: str
) -> list[JSON]:
    """What ends a stream that failed after it began: an ``error`` event, then
    ``response.failed`` (when a response was announced), numbered after the last event."""
    events: list[JSON] = [
        {
            "type": "error",
            "sequence_number": last_sequence + 1,
            "code": code,
            "message": message,
            "param": None,
        }
    ]
    if response is not None:
        failed = {
            **response,
            "status": "failed",
            "error": {"code": "server_error", "message": message},
        }
        events.append(
            {"type": "response.failed", "sequence_number": last_sequence + 2, "response": failed}
        )
    return events
