"""The Anthropic fakes' deterministic model (see the package docstring): the answer to a
Messages body, as a whole Message or as the real stream's events, with thinking blocks
signed and prompt-cache usage when the fake models them (``anthropic_features``)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

from keyhouse.testing.fakes.anthropic_features import (
    COUNT_FIELDS,
    PromptCache,
    Signer,
    omitted,
    problem,
    thinking_on,
)
from keyhouse.testing.fakes.anthropic_validate import (
    as_messages_body,
    platform_problem,
    text_of,
    validate,
)

JSON = dict[str, Any]


def answer(body: JSON) -> tuple[list[JSON], str, str | None, int, int]:
    """(content blocks, stop reason, stop sequence, input tokens, output tokens)."""
    messages = body["messages"]
    system = body.get("system")
    prompt = len(text_of(system if isinstance(system, str) else system or []).split())
    prompt += sum(len(text_of(m.get("content")).split()) for m in messages)
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
    said = text_of(results[-1].get("content")) if results else ""
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


def platform_body(
    body: JSON,
    model: str,
    signer: Signer,
    version: str,
    extra: frozenset[str] = frozenset(),
    forbidden: frozenset[str] = frozenset(),
) -> tuple[str | None, JSON]:
    """A cloud platform's Claude body checked as the platform and then the Messages API
    check it: (the first problem, or None; the body as the Messages API's own)."""
    messages_body = as_messages_body(body, model)
    found = (
        platform_problem(body, version, extra, forbidden)
        or validate(messages_body)
        or problem(messages_body, signer)
    )
    return found, messages_body


def count_input_tokens(body: JSON, signer: Signer) -> tuple[str | None, int]:
    """``count_tokens``: (the problem the API would report, or None; the input tokens).
    The count body has no ``max_tokens``; one that thinking's budget allows stands in."""
    for name in body:
        if name not in COUNT_FIELDS:
            return f"{name}: Extra inputs are not permitted", 0
    budget = (body.get("thinking") or {}).get("budget_tokens")
    sized = {**body, "max_tokens": budget + 1 if isinstance(budget, int) else 1}
    found = validate(sized) or problem(sized, signer)
    return found, 0 if found else answer(sized)[3]


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


def _event(kind: str, data: JSON) -> JSON:
    return {"type": kind, **data}


async def events(
    body: JSON,
    fail_midway: bool = False,
    signer: Signer | None = None,
    cache: PromptCache | None = None,
) -> AsyncIterator[JSON]:
    """The real event sequence, a word (or a JSON fragment) per delta; each event is
    framed by the caller (SSE at Anthropic and Vertex, event-stream chunks at Bedrock)."""
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


async def sse(stream: AsyncIterator[JSON]) -> AsyncIterator[bytes]:
    """Events as Anthropic's server-sent events (``event: <type>``, ``data: <json>``)."""
    async for event in stream:
        yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()
