"""A fake of Anthropic's Messages API (``/v1/messages``, ``/count_tokens``, ``/v1/models``).

It validates requests as strictly as the real API where translation bugs would show:
unknown top-level fields, a ``system`` role, missing ``max_tokens``, empty text blocks,
malformed image sources, and tool results that do not answer the previous turn's tool
uses; thinking and prompt caching as ``anthropic_features`` describes. Errors use
Anthropic's envelope; a wrong key's message echoes the key (a hostile upstream, so tests
prove the gateway redacts it).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from keyhouse.testing.fakes.anthropic_features import (
    COUNT_FIELDS,
    PromptCache,
    Signer,
    omitted,
    problem,
    thinking_on,
)
from keyhouse.testing.fakes.server import Recorded

JSON = dict[str, Any]

MODELS = (("claude-sonnet-4-5", "Claude Sonnet 4.5"), ("claude-haiku-4-5", "Claude Haiku 4.5"))

_FIELDS = {
    "model",
    "messages",
    "max_tokens",
    "metadata",
    "stop_sequences",
    "stream",
    "system",
    "temperature",
    "thinking",
    "tool_choice",
    "tools",
    "top_k",
    "top_p",
    "service_tier",
    "output_config",
    "container",
    "mcp_servers",
    "context_management",
    "inference_geo",
    "cache_control",
    "diagnostics",
    "speed",
    "user_profile_id",
    "workspace_id",
}
_BLOCKS = {
    "text",
    "image",
    "document",
    "tool_use",
    "tool_result",
    "thinking",
    "redacted_thinking",
    "search_result",
}
_IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp"}

_FAILURES: dict[str, tuple[int, str, str]] = {
    "fail-503": (503, "api_error", "Service unavailable"),
    "fail-529": (529, "overloaded_error", "Overloaded"),
    "fail-429": (
        429,
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of 50 requests per minute.",
    ),
    "fail-400": (400, "invalid_request_error", "Invalid request (fail-400)."),
}


def error(status: int, kind: str, message: str) -> Response:
    return JSONResponse(
        {
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": f"req_{secrets.token_hex(12)}",
        },
        status_code=status,
    )


# --- validation -----------------------------------------------------------------------


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if block.get("type") == "text":
            parts.append(block.get("text", ""))
        elif block.get("type") == "tool_result":
            parts.append(_text_of(block.get("content")))
    return " ".join(parts)


def _image_problem(where: str, source: Any) -> str | None:
    if not isinstance(source, dict):
        return f"{where}.source: Field required"
    if source.get("type") == "base64":
        if source.get("media_type") not in _IMAGE_TYPES:
            return f"{where}.source.media_type: Input should be one of {sorted(_IMAGE_TYPES)}"
        return None if source.get("data") else f"{where}.source.data: Field required"
    if source.get("type") == "url":
        return None if source.get("url") else f"{where}.source.url: Field required"
    return f"{where}.source.type: Input tag {source.get('type')!r} is not expected"


def _block_problem(where: str, role: str, block: Any) -> str | None:
    kind = block.get("type") if isinstance(block, dict) else None
    if kind not in _BLOCKS:
        return (
            f"{where}.type: Input tag {kind!r} found using 'type' does not match any "
            "of the expected tags"
        )
    if kind == "text" and not block.get("text"):
        return "messages: text content blocks must be non-empty"
    if kind == "image":
        return _image_problem(where, block.get("source"))
    if kind == "tool_use":
        if role != "assistant":
            return f"{where}: tool_use blocks may only appear in assistant messages"
        if not block.get("id") or not block.get("name") or not isinstance(block.get("input"), dict):
            return f"{where}: tool_use blocks need id, name and an object input"
    if kind == "tool_result" and role != "user":
        return f"{where}: tool_result blocks may only appear in user messages"
    return None


def _ids(content: Any, kind: str, key: str) -> list[str]:
    if isinstance(content, str):
        return []
    return [b.get(key, "") for b in content or [] if b.get("type") == kind]


def validate(body: JSON) -> str | None:
    """The first problem the real API would report, or None."""
    for name in body:
        if name not in _FIELDS:
            return f"{name}: Extra inputs are not permitted"
    for name in ("model", "messages", "max_tokens"):
        if name not in body:
            return f"{name}: Field required"
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        return "max_tokens: Input should be a valid integer greater than or equal to 1"
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None and not 0 <= value <= 1:
            return f"{name}: range: 0..1"
    stops = body.get("stop_sequences")
    if stops is not None and (
        not isinstance(stops, list) or not all(isinstance(s, str) and s.strip() for s in stops)
    ):
        return "stop_sequences: each stop sequence must be a non-whitespace string"
    if set(body.get("metadata") or {}) - {"user_id"}:
        return "metadata: only user_id is permitted"
    for i, tool in enumerate(body.get("tools") or []):
        if not tool.get("name") or (
            tool.get("type") in (None, "custom")
            and (tool.get("input_schema") or {}).get("type") != "object"
        ):
            return f"tools.{i}: custom tools need a name and an object input_schema"
    choice = body.get("tool_choice")
    if choice is not None and (
        choice.get("type") not in ("auto", "any", "tool", "none")
        or (choice["type"] == "tool" and not choice.get("name"))
    ):
        return "tool_choice: Input tag does not match any of the expected tags"
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for i, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if role == "system":
            return (
                f'messages.{i}.role: Unexpected role "system". The Messages API accepts '
                'a top-level `system` parameter, not "system" as an input message role.'
            )
        if role not in ("user", "assistant"):
            return f"messages.{i}.role: Input should be 'user' or 'assistant'"
        if not content and not (role == "assistant" and i == len(messages) - 1):
            return (
                "messages: all messages must have non-empty content except for the "
                "optional final assistant message"
            )
        for j, block in enumerate([] if isinstance(content, str) else content or []):
            problem = _block_problem(f"messages.{i}.content.{j}", role, block)
            if problem:
                return problem
        previous = messages[i - 1] if i else {}
        asked = (
            _ids(previous.get("content"), "tool_use", "id")
            if previous.get("role") == "assistant"
            else []
        )
        answered = _ids(content, "tool_result", "tool_use_id")
        for tool_use_id in answered:
            if tool_use_id not in asked:
                return (
                    f"messages.{i}.content: unexpected `tool_use_id` found in "
                    f"`tool_result` blocks: {tool_use_id}. Each `tool_result` block must "
                    "have a corresponding `tool_use` block in the previous message."
                )
        if i and role == "user" and [a for a in asked if a not in answered]:
            return (
                f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(a for a in asked if a not in answered)}"
            )
    return None


# --- the deterministic model ----------------------------------------------------------


def answer(body: JSON) -> tuple[list[JSON], str, str | None, int, int]:
    """(content blocks, stop reason, stop sequence, input tokens, output tokens)."""
    messages = body["messages"]
    system = body.get("system")
    prompt = len(_text_of(system if isinstance(system, str) else system or []).split())
    prompt += sum(len(_text_of(m.get("content")).split()) for m in messages)
    last_user: JSON = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    content = last_user.get("content")
    blocks = [] if isinstance(content, str) else content or []
    results = [b for b in blocks if b.get("type") == "tool_result"]
    user_text = (
        content
        if isinstance(content, str)
        else " ".join(b.get("text", "") for b in blocks if b.get("type") == "text")
    )
    tools = body.get("tools") or []
    choice = body.get("tool_choice") or {"type": "auto"}
    if (
        messages[-1].get("role") == "user"
        and not results
        and tools
        and choice.get("type") != "none"
    ):
        name = choice.get("name") if choice.get("type") == "tool" else tools[0]["name"]
        tool_input = {"q": user_text}
        tool_id = "toolu_" + hashlib.sha256(json.dumps(tool_input).encode()).hexdigest()[:24]
        block = {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input}
        return [block], "tool_use", None, prompt, len(json.dumps(tool_input).split())
    said = _text_of(results[-1].get("content")) if results else ""
    text = f"tool said: {said}" if results else f"echo: {user_text}"
    reason, matched = "end_turn", None
    for seq in body.get("stop_sequences") or []:
        if seq in text:
            text, reason, matched = text[: text.index(seq)], "stop_sequence", seq
    if len(text.split()) > body["max_tokens"]:
        text, reason, matched = " ".join(text.split(" ")[: body["max_tokens"]]), "max_tokens", None
    return [{"type": "text", "text": text}], reason, matched, prompt, len(text.split())


def message(body: JSON, signer: Signer | None = None, cache: PromptCache | None = None) -> JSON:
    content, reason, matched, prompt, done = answer(body)
    if signer is not None and thinking_on(body):
        said = next((b.get("text", "") for b in content if b.get("type") == "text"), "")
        thought = f"Thinking about: {said or 'the tool call'}"
        content = [
            {
                "type": "thinking",
                "thinking": "" if omitted(body) else thought,
                "signature": signer.sign(thought),
            },
            *content,
        ]
        done += len(thought.split())
    usage: JSON = {
        "input_tokens": prompt,
        "output_tokens": done,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }
    if cache is not None:
        usage.update(cache.usage(body))
    return {
        "id": f"msg_{secrets.token_hex(12)}",
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": reason,
        "stop_sequence": matched,
        "usage": usage,
    }


def _event(kind: str, data: JSON) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()


def _pieces(block: JSON) -> tuple[JSON, list[JSON]]:
    """A block as content_block_start shows it, and its deltas."""
    if block["type"] == "tool_use":
        raw = json.dumps(block["input"])
        return {**block, "input": {}}, [
            {"type": "input_json_delta", "partial_json": raw[i : i + 8]}
            for i in range(0, len(raw), 8)
        ]
    if block["type"] == "thinking":
        words = block["thinking"].split(" ") if block["thinking"] else []
        return {"type": "thinking", "thinking": "", "signature": ""}, [
            *(
                {"type": "thinking_delta", "thinking": w if i == 0 else f" {w}"}
                for i, w in enumerate(words)
            ),
            {"type": "signature_delta", "signature": block["signature"]},
        ]
    words = block["text"].split(" ")
    return {"type": "text", "text": ""}, [
        {"type": "text_delta", "text": w if i == 0 else f" {w}"} for i, w in enumerate(words)
    ]


async def stream(
    body: JSON,
    fail_midway: bool = False,
    signer: Signer | None = None,
    cache: PromptCache | None = None,
) -> AsyncIterator[bytes]:
    """The real event sequence, a word (or a JSON fragment) per delta."""
    start = message(body, signer, cache)
    content, reason, matched = start["content"], start["stop_reason"], start["stop_sequence"]
    done = start["usage"]["output_tokens"]
    start = {
        **start,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**start["usage"], "output_tokens": 1},
    }
    yield _event("message_start", {"message": start})
    if fail_midway:
        yield _event("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})
        return
    yield _event("ping", {})
    for index, block in enumerate(content):
        opened, pieces = _pieces(block)
        yield _event("content_block_start", {"index": index, "content_block": opened})
        for delta in pieces:
            await asyncio.sleep(0)
            yield _event("content_block_delta", {"index": index, "delta": delta})
        yield _event("content_block_stop", {"index": index})
    yield _event(
        "message_delta",
        {
            "delta": {"stop_reason": reason, "stop_sequence": matched},
            "usage": {"output_tokens": done},
        },
    )
    yield _event("message_stop", {})


# --- the app --------------------------------------------------------------------------


async def _record(request: Request) -> Recorded:
    raw = await request.body()
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = None
    recorded = Recorded(
        request.method, request.url.path, request.url.query, dict(request.headers), raw, data
    )
    request.app.state.calls.append(recorded)
    return recorded


def create_app(api_key: str = "sk-ant-test") -> Starlette:
    signer = Signer(secrets.token_bytes(32))
    cache = PromptCache()

    def denied(request: Request) -> Response | None:
        # Recent SDKs send the API key as a Bearer token; the API takes either header.
        presented = request.headers.get("x-api-key")
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        if presented is None and scheme.lower() == "bearer" and bearer:
            if bearer != api_key:
                return error(401, "authentication_error", f"Invalid bearer token: {bearer}")
        elif not presented:
            return error(401, "authentication_error", "x-api-key header is required")
        elif presented != api_key:
            return error(401, "authentication_error", f"invalid x-api-key: {presented}")
        if not request.headers.get("anthropic-version"):
            return error(400, "invalid_request_error", "anthropic-version: header is required")
        return None

    async def messages(request: Request) -> Response:
        recorded = await _record(request)
        if (refused := denied(request)) is not None:
            return refused
        body = recorded.json
        if not isinstance(body, dict):
            return error(400, "invalid_request_error", "The request body is not valid JSON.")
        failure = _FAILURES.get(str(body.get("model")))
        if failure is not None:
            response = error(*failure)
            if failure[0] == 429:
                response.headers["retry-after"] = "0"
            return response
        found = validate(body) or problem(body, signer)
        if found:
            return error(400, "invalid_request_error", found)
        if body["model"] == "slow":
            for _ in range(30):
                if await request.is_disconnected():
                    break
                await asyncio.sleep(0.1)
        if body.get("stream"):
            return StreamingResponse(
                stream(body, body["model"] == "fail-midstream", signer, cache),
                media_type="text/event-stream",
            )
        return JSONResponse(message(body, signer, cache))

    async def count_tokens(request: Request) -> Response:
        recorded = await _record(request)
        if (refused := denied(request)) is not None:
            return refused
        body = recorded.json
        if not isinstance(body, dict):
            return error(400, "invalid_request_error", "The request body is not valid JSON.")
        for name in body:
            if name not in COUNT_FIELDS:
                return error(
                    400, "invalid_request_error", f"{name}: Extra inputs are not permitted"
                )
        budget = (body.get("thinking") or {}).get("budget_tokens")
        sized = {**body, "max_tokens": budget + 1 if isinstance(budget, int) else 1}
        found = validate(sized) or problem(sized, signer)
        if found:
            return error(400, "invalid_request_error", found)
        return JSONResponse({"input_tokens": answer(sized)[3]})

    async def models(request: Request) -> Response:
        await _record(request)
        if (refused := denied(request)) is not None:
            return refused
        data = [
            {"type": "model", "id": m, "display_name": name, "created_at": "2025-09-29T00:00:00Z"}
            for m, name in MODELS
        ]
        return JSONResponse(
            {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
        )

    app = Starlette(
        routes=[
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
        ]
    )
    app.state.calls = []
    return app
