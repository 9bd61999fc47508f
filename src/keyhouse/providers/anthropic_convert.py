"""OpenAI chat shape → Anthropic Messages API: the provider direction's request.

Pure functions, no I/O. The gateway speaks OpenAI's chat.completions shape internally;
these turn such a request into a Messages API body. The answer (whole or as SSE events)
comes back into a ChatCompletion or chat.completion.chunk dicts through
``anthropic_answer``.

The opposite direction, for the gateway's own Anthropic-format route ``/v1/messages``,
lives in ``anthropic_inbound`` (the request) and ``anthropic_inbound_answer`` (the answer).

OpenAI fields with no Anthropic counterpart (``n``, ``seed``, ``logprobs``, penalties,
``logit_bias``, ``reasoning_effort``, ``response_format: json_object``) are dropped;
Anthropic would reject them as unknown fields.
"""

from __future__ import annotations

import json
from typing import Any

from keyhouse.errors import BadRequest

JSON = dict[str, Any]

# Anthropic requires max_tokens; OpenAI callers usually leave it out.
DEFAULT_MAX_TOKENS = 4096

_TOOL_CHOICES: dict[str, str] = {"auto": "auto", "required": "any", "none": "none"}


# --- request: OpenAI → Anthropic ------------------------------------------------------


def openai_to_anthropic_request(req: JSON, model: str) -> JSON:
    """An OpenAI chat.completions body as a Messages API body (without ``stream``)."""
    system, messages = _messages(req.get("messages") or [])
    out: JSON = {"model": model, "messages": messages, "max_tokens": _max_tokens(req)}
    if system:
        out["system"] = system
    if isinstance(req.get("temperature"), int | float):
        # OpenAI's range is 0..2, Anthropic's 0..1: clamp rather than fail a request a
        # router may have sent here as a fallback for an OpenAI model.
        out["temperature"] = min(float(req["temperature"]), 1.0)
    for name in ("top_p", "top_k"):
        if req.get(name) is not None:
            out[name] = req[name]
    stop = req.get("stop")
    # Anthropic refuses whitespace-only stop sequences ("\n" is a common OpenAI one).
    sequences = [s for s in ([stop] if isinstance(stop, str) else stop or []) if s.strip()]
    if sequences:
        out["stop_sequences"] = sequences
    if req.get("user"):
        out["metadata"] = {"user_id": str(req["user"])}
    tools = [_tool(t) for t in req.get("tools") or [] if t.get("type", "function") == "function"]
    if tools:
        out["tools"] = tools
        choice = _tool_choice(req.get("tool_choice"), req.get("parallel_tool_calls"))
        if choice:
            out["tool_choice"] = choice
    fmt = req.get("response_format") or {}
    if fmt.get("type") == "json_schema" and (fmt.get("json_schema") or {}).get("schema"):
        out["output_config"] = {
            "format": {"type": "json_schema", "schema": fmt["json_schema"]["schema"]}
        }
    return out


def _max_tokens(req: JSON) -> int:
    for name in ("max_completion_tokens", "max_tokens"):
        value = req.get(name)
        if isinstance(value, int) and value > 0:
            return value
    return DEFAULT_MAX_TOKENS


def _messages(messages: list[JSON]) -> tuple[str | list[JSON] | None, list[JSON]]:
    system: list[JSON] = []
    out: list[JSON] = []
    for message in messages:
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            system.extend(_text_blocks(content))
        elif role == "user":
            _append(out, "user", _user_blocks(content))
        elif role == "assistant":
            _append(out, "assistant", _assistant_blocks(message))
        elif role == "tool":
            result = {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id") or "",
                "content": _tool_result_content(content),
            }
            _append(out, "user", [result])
        else:
            raise BadRequest(f"Unknown message role {role!r}.")
    # Anthropic rejects a final (prefill) assistant turn that ends in whitespace.
    if out and out[-1]["role"] == "assistant":
        last = out[-1]["content"][-1]
        if last["type"] == "text":
            last["text"] = last["text"].rstrip()
            if not last["text"]:
                out[-1]["content"].pop()
                if not out[-1]["content"]:
                    out.pop()
    return _system(system), out


def _append(out: list[JSON], role: str, blocks: list[JSON]) -> None:
    """Add a turn; Anthropic wants alternating roles, so same-role turns merge."""
    if not blocks:
        return
    if out and out[-1]["role"] == role:
        out[-1]["content"].extend(blocks)
    else:
        out.append({"role": role, "content": blocks})


def _system(blocks: list[JSON]) -> str | list[JSON] | None:
    if not blocks:
        return None
    # Keep blocks only when one carries a cache breakpoint; a string is the common case.
    if any("cache_control" in b for b in blocks):
        return blocks
    return "\n\n".join(b["text"] for b in blocks)


def _text_blocks(content: Any) -> list[JSON]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for part in content or []:
        if part.get("type") == "text" and part.get("text"):
            blocks.append(_with_cache({"type": "text", "text": part["text"]}, part))
    return blocks


def _user_blocks(content: Any) -> list[JSON]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[JSON] = []
    for part in content or []:
        kind = part.get("type")
        if kind == "text":
            if part.get("text"):
                blocks.append(_with_cache({"type": "text", "text": part["text"]}, part))
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url", "") if isinstance(image, dict) else str(image or "")
            blocks.append(_with_cache({"type": "image", "source": _source(url)}, part))
        elif kind == "file":
            blocks.append(_with_cache(_file_block(part.get("file") or {}), part))
        else:
            raise BadRequest(f"Anthropic models do not accept {kind!r} content.")
    return blocks


def _file_block(file: JSON) -> JSON:
    data = file.get("file_data")
    if not isinstance(data, str) or not data.startswith("data:"):
        raise BadRequest("Anthropic models take files inline only (file_data as a data: URL).")
    source = _source(data)
    kind = "image" if source["media_type"].startswith("image/") else "document"
    block: JSON = {"type": kind, "source": source}
    if kind == "document" and file.get("filename"):
        block["title"] = file["filename"]
    return block


def _source(url: str) -> JSON:
    """An image/document source from an OpenAI URL: data: URLs inline, http(s) by URL."""
    if url.startswith("data:"):
        header, sep, data = url[5:].partition(",")
        media_type, _, encoding = header.partition(";")
        if not sep or encoding != "base64" or not media_type:
            raise BadRequest("Only base64 data: URLs can be sent to Anthropic models.")
        return {"type": "base64", "media_type": media_type, "data": data}
    if url.startswith(("https://", "http://")):
        return {"type": "url", "url": url}
    raise BadRequest("An image must be an http(s) URL or a base64 data: URL.")


def _with_cache(block: JSON, part: JSON) -> JSON:
    # cache_control on OpenAI parts is the LiteLLM/OpenRouter convention for prompt caching.
    if part.get("cache_control"):
        block["cache_control"] = part["cache_control"]
    return block


def _assistant_blocks(message: JSON) -> list[JSON]:
    content = message.get("content")
    blocks = _text_blocks(content if isinstance(content, str | list) else None)
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        blocks.append(
            {
                "type": "tool_use",
                "id": call.get("id") or "",
                "name": fn.get("name", ""),
                "input": _arguments(fn.get("arguments")),
            }
        )
    return blocks


def _arguments(raw: Any) -> JSON:
    """Tool call arguments as the object Anthropic requires; malformed JSON becomes {}."""
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _tool_result_content(content: Any) -> str | list[JSON]:
    if isinstance(content, str) or content is None:
        return content or ""
    blocks: list[JSON] = []
    for part in content:
        if part.get("type") == "text":
            blocks.append({"type": "text", "text": part.get("text", "")})
        elif part.get("type") == "image_url":
            url = (part.get("image_url") or {}).get("url", "")
            blocks.append({"type": "image", "source": _source(url)})
    return blocks


def _tool(tool: JSON) -> JSON:
    fn = tool.get("function") or {}
    out: JSON = {
        "name": fn.get("name", ""),
        "input_schema": fn.get("parameters") or {"type": "object", "properties": {}},
    }
    if fn.get("description"):
        out["description"] = fn["description"]
    if fn.get("strict"):
        out["strict"] = True
    return _with_cache(out, tool)


def _tool_choice(choice: Any, parallel: Any) -> JSON | None:
    out: JSON | None
    if choice is None:
        out = {"type": "auto"} if parallel is False else None
    elif isinstance(choice, str):
        out = {"type": _TOOL_CHOICES.get(choice, "auto")}
    else:
        name = (choice.get("function") or {}).get("name")
        out = {"type": "tool", "name": name} if name else {"type": "auto"}
    if out is not None and parallel is False and out["type"] != "none":
        out["disable_parallel_tool_use"] = True
    return out
