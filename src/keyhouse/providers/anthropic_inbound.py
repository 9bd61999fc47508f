"""Anthropic Messages API → OpenAI chat shape: the gateway's ``/v1/messages`` request.

Pure functions, no I/O. A caller using the Anthropic SDK sends a Messages body; it is
turned into an OpenAI chat body and served by whichever provider the endpoint routes to;
the OpenAI-shaped answer (whole, or chunk by chunk) is turned back into a Message or the
Messages SSE event sequence by ``anthropic_inbound_answer``.

Only cross-family targets come this way: an endpoint whose target speaks the Messages API
gets the body untouched (``gateway.messages``). Dropped on the way in, having no OpenAI
counterpart: ``top_k``, ``thinking``, ``cache_control`` markers, and thinking blocks in
earlier assistant turns. Server tools (web search, code execution,
…) run inside Anthropic and cannot be served by another provider, so they are refused.
"""

from __future__ import annotations

from typing import Any

from keyhouse.errors import BadRequest
from keyhouse.providers.anthropic_answer import openai_tool_call

JSON = dict[str, Any]

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
            calls.append(openai_tool_call(block))
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
