"""The OpenAI fake's deterministic model: chat answers (whole or streamed, per family)
and embeddings, per the conventions in ``keyhouse.testing.fakes``."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import secrets
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

JSON = dict[str, Any]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def _words(text: str) -> int:
    return len(text.split())


def answer(body: JSON) -> tuple[str, JSON | None, str, int, int]:
    """(text, tool call, finish reason, prompt tokens, completion tokens) per the
    conventions in ``keyhouse.testing.fakes``."""
    messages = body["messages"]
    prompt = sum(_words(_text(m.get("content"))) for m in messages)
    last = messages[-1] if messages else {}
    user_text = next(
        (_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), ""
    )
    tools = [t for t in body.get("tools") or [] if t.get("type") == "function"]
    choice = body.get("tool_choice")
    if last.get("role") == "user" and tools and choice != "none":
        name = tools[0]["function"]["name"]
        if isinstance(choice, dict):
            name = (choice.get("function") or {}).get("name", name)
        arguments = json.dumps({"q": user_text})
        call = {
            "id": "call_" + hashlib.sha256(arguments.encode()).hexdigest()[:24],
            "type": "function",
            "function": {"name": name, "arguments": arguments},
        }
        return "", call, "tool_calls", prompt, _words(arguments)
    if last.get("role") == "tool":
        text = f"tool said: {_text(last.get('content'))}"
    else:
        text = f"echo: {user_text}"
    finish = "stop"
    stop = body.get("stop")
    for seq in [stop] if isinstance(stop, str) else stop or []:
        if seq and seq in text:
            text = text[: text.index(seq)]
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(limit, int) and _words(text) > limit:
        text, finish = " ".join(text.split(" ")[:limit]), "length"
    return text, None, finish, prompt, _words(text)


def _usage(prompt: int, completion: int, body: JSON | None = None) -> JSON:
    """OpenAI's usage; a request with a ``prompt_cache_key`` and a prompt of 1024 tokens
    or more reports cached tokens as OpenAI does (1024, then 128-token steps)."""
    cached = 0
    if body is not None and body.get("prompt_cache_key") and prompt >= 1024:
        cached = 1024 + (prompt - 1024) // 128 * 128
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
    }


def completion(body: JSON, model: str, family: str) -> JSON:
    text, call, finish, prompt, done = answer(body)
    message: JSON = {"role": "assistant", "content": None if call else text, "refusal": None}
    if call:
        message["tool_calls"] = [call]
    choice: JSON = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
    out: JSON = {
        "id": f"chatcmpl-{secrets.token_hex(12)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
        "usage": _usage(prompt, done, body),
        "system_fingerprint": "fp_keyhouse",
    }
    if family == "azure":
        out["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": {}}]
        choice["content_filter_results"] = {}
    return out


async def stream(body: JSON, model: str, family: str) -> AsyncIterator[bytes]:
    """OpenAI SSE framing, a word per chunk; Azure opens with its prompt-filter chunk."""
    text, call, finish, prompt, done = answer(body)
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    head = {
        "id": f"chatcmpl-{secrets.token_hex(12)}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_keyhouse",
    }
    if include_usage:
        head["usage"] = None

    def event(data: JSON) -> bytes:
        return f"data: {json.dumps(data)}\n\n".encode()

    def chunk(delta: JSON, finish_reason: str | None = None) -> bytes:
        return event(
            {
                **head,
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
                ],
            }
        )

    if family == "azure":
        yield event(
            {
                **head,
                "model": "",
                "choices": [],
                "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
            }
        )
    yield chunk({"role": "assistant", "content": "" if not call else None, "refusal": None})
    if call:
        fn = call["function"]
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": fn["name"], "arguments": ""},
                    }
                ]
            }
        )
        args = fn["arguments"]
        for i in range(0, len(args), 8):
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[i : i + 8]}}]})
    else:
        for i, word in enumerate(text.split(" ")):
            # "drip": a word every 0.2 s, so a test can leave in the middle of a stream.
            await asyncio.sleep(0.2 if model == "drip" else 0)
            yield chunk({"content": word if i == 0 else f" {word}"})
    if family == "databricks":
        # Databricks puts usage on its last chunk instead of an extra usage-only chunk.
        yield event(
            {
                **head,
                "choices": [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}],
                "usage": _usage(prompt, done, body),
            }
        )
    else:
        yield chunk({}, finish)
        if include_usage:
            yield event({**head, "choices": [], "usage": _usage(prompt, done, body)})
    yield b"data: [DONE]\n\n"


def _vector(text: str, index: int, dims: int) -> list[float]:
    digest = b""
    while len(digest) < dims:
        digest += hashlib.sha256(f"{len(digest)}:{index}:{text}".encode()).digest()
    return [round(b / 127.5 - 1.0, 6) for b in digest[:dims]]


def embeddings(body: JSON, model: str) -> JSON | str:
    """The embeddings answer, or an error message for a malformed input."""
    raw = body.get("input")
    if isinstance(raw, str) or (isinstance(raw, list) and raw and isinstance(raw[0], int)):
        raw = [raw]
    if not isinstance(raw, list) or not raw or any(x in ("", []) for x in raw):
        return "'input' must be a non-empty string or array of strings or tokens."
    dims = body.get("dimensions") or 8
    data = []
    for i, item in enumerate(raw):
        vector = _vector(json.dumps(item), 0, dims)
        value: Any = vector
        if body.get("encoding_format") == "base64":
            value = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
        data.append({"object": "embedding", "index": i, "embedding": value})
    tokens = sum(_words(x) if isinstance(x, str) else len(x) for x in raw)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
