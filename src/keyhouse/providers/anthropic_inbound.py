"""Anthropic Messages API → OpenAI chat shape and back: the gateway's ``/v1/messages``.

Pure functions, no I/O. A caller using the Anthropic SDK sends a Messages body; it is
turned into an OpenAI chat body, served by whichever provider the endpoint routes to, and
the OpenAI-shaped answer (whole, or chunk by chunk) is turned back into a Message or the
Messages SSE event sequence.

Only cross-family targets come this way: an endpoint whose target speaks the Messages API
gets the body untouched (``gateway.messages``). Dropped on the way in, having no OpenAI
counterpart: ``top_k``, ``thinking``, ``cache_control`` markers, and thinking blocks in
earlier assistant turns. Server tools (web search, code execution,
…) run inside Anthropic and cannot be served by another provider, so they are refused.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from keyhouse.errors import BadRequest
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

_TOOL_CHOICES: dict[str, str] = {"auto": "auto", "any": "required", "none": "none"}


# --- request: Anthropic → OpenAI ------------------------------------------------------


def anthropic_to_openai_request(req: JSON) -> JSON:
    """A Messages API body as an OpenAI chat.completions body (``stream`` kept)."""
    messages: list[JSON] = []
    system = _system_text(req.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for message in req.get("messages") or []:
        if message.get("role") == "assistant":
            messages.append(_assistant(message.get("content")))
        else:
            messages.extend(_user(message.get("content")))
    out: JSON = {"model": req.get("model"), "messages": messages}
    if req.get("max_tokens") is not None:
        out["max_tokens"] = req["max_tokens"]
    for name in ("temperature", "top_p"):
        if req.get(name) is not None:
            out[name] = req[name]
    if req.get("stop_sequences"):
        out["stop"] = list(req["stop_sequences"])
    user_id = (req.get("metadata") or {}).get("user_id")
    if user_id:
        out["user"] = user_id
    if req.get("tools"):
        out["tools"] = [_tool(t) for t in req["tools"]]
        _tool_choice(req.get("tool_choice"), out)
    fmt = (req.get("output_config") or {}).get("format") or {}
    if fmt.get("type") == "json_schema" and fmt.get("schema"):
        out["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": fmt["schema"]},
        }
    if req.get("stream"):
        out["stream"] = True
        # Anthropic streams end with usage; ask the OpenAI side for it.
        out["stream_options"] = {"include_usage": True}
    return out


def _system_text(system: Any) -> str:
    if isinstance(system, str):
        return system
    return "\n\n".join(b.get("text", "") for b in system or [] if b.get("type") == "text")


def _user(content: Any) -> list[JSON]:
    """One Anthropic user turn: tool results become ``tool`` messages, which OpenAI wants
    right after the assistant's tool calls, followed by whatever else the turn said."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    out: list[JSON] = []
    parts: list[JSON] = []
    for block in content or []:
        kind = block.get("type")
        if kind == "tool_result":
            text, images = _tool_result(block.get("content"))
            out.append(
                {"role": "tool", "tool_call_id": block.get("tool_use_id", ""), "content": text}
            )
            # OpenAI tool messages carry text only; images ride in the user turn after.
            parts.extend(images)
        elif kind == "text":
            parts.append({"type": "text", "text": block.get("text", "")})
        elif kind == "image":
            parts.append(
                {"type": "image_url", "image_url": {"url": _url(block.get("source") or {})}}
            )
        elif kind == "document":
            parts.append(_document(block))
        else:
            raise BadRequest(f"Content blocks of type {kind!r} cannot be translated.")
    if len(parts) == 1 and parts[0]["type"] == "text":
        out.append({"role": "user", "content": parts[0]["text"]})
    elif parts:
        out.append({"role": "user", "content": parts})
    return out


def _tool_result(content: Any) -> tuple[str, list[JSON]]:
    if isinstance(content, str) or content is None:
        return content or "", []
    texts = [b.get("text", "") for b in content if b.get("type") == "text"]
    images = [
        {"type": "image_url", "image_url": {"url": _url(b.get("source") or {})}}
        for b in content
        if b.get("type") == "image"
    ]
    return "\n".join(texts), images


def _url(source: JSON) -> str:
    if source.get("type") == "base64":
        return f"data:{source.get('media_type', '')};base64,{source.get('data', '')}"
    if source.get("type") == "url":
        return str(source.get("url", ""))
    raise BadRequest(f"Sources of type {source.get('type')!r} cannot be translated.")


def _document(block: JSON) -> JSON:
    source = block.get("source") or {}
    if source.get("type") == "text":
        return {"type": "text", "text": source.get("data", "")}
    if source.get("type") != "base64":
        raise BadRequest("Only inline (base64 or text) documents can be translated.")
    file: JSON = {"file_data": _url(source)}
    file["filename"] = block.get("title") or "document.pdf"
    return {"type": "file", "file": file}


def _assistant(content: Any) -> JSON:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    calls: list[JSON] = []
    for block in content or []:
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "tool_use":
            calls.append(
                {
                    "id": block.get("id", ""),
                    "type": "function",
                    "function": {
                        "name": block.get("name", ""),
                        "arguments": json.dumps(block.get("input") or {}, ensure_ascii=False),
                    },
                }
            )
        # thinking / redacted_thinking: other providers cannot verify their signatures.
    out: JSON = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        out["tool_calls"] = calls
    return out


def _tool(tool: JSON) -> JSON:
    if tool.get("type") not in (None, "custom"):
        raise BadRequest(
            f"Anthropic server tool {tool.get('type')!r} cannot be served by another provider."
        )
    fn: JSON = {
        "name": tool.get("name", ""),
        "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
    }
    if tool.get("description"):
        fn["description"] = tool["description"]
    if tool.get("strict"):
        fn["strict"] = True
    return {"type": "function", "function": fn}


def _tool_choice(choice: Any, out: JSON) -> None:
    if not isinstance(choice, dict):
        return
    kind = choice.get("type")
    if kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    elif kind in _TOOL_CHOICES:
        out["tool_choice"] = _TOOL_CHOICES[kind]
    if choice.get("disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False


# --- response: OpenAI → Anthropic -----------------------------------------------------


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
