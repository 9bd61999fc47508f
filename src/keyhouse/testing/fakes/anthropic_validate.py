"""What the Anthropic fakes check of a Messages body, as strictly as the real API where
translation bugs would show: unknown top-level fields, a ``system`` role, missing
``max_tokens``, empty text blocks, malformed image sources, and tool results that do not
answer the previous turn's tool uses. ``platform_problem`` adds what Claude on Bedrock
and on Vertex AI require of the same body (``anthropic_version``, no ``model``). Errors
use Anthropic's envelope (``error``).
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.responses import JSONResponse, Response

JSON = dict[str, Any]

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

FAILURES: dict[str, tuple[int, str, str]] = {
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


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if block.get("type") == "text":
            parts.append(block.get("text", ""))
        elif block.get("type") == "tool_result":
            parts.append(text_of(block.get("content")))
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


def platform_problem(
    body: JSON, version: str, extra: frozenset[str], forbidden: frozenset[str]
) -> str | None:
    """What Claude on a cloud platform refuses before the Messages rules apply: the
    platform's ``anthropic_version`` is required (and only it), ``model`` lives in the
    URL, and ``forbidden`` fields (Bedrock's ``stream``) are not taken in the body.
    ``extra`` are the platform's own body fields (Bedrock's ``anthropic_beta``)."""
    if "anthropic_version" not in body:
        return "anthropic_version: Field required"
    if body["anthropic_version"] != version:
        return f"anthropic_version: Input should be '{version}'"
    for name in sorted(forbidden | {"model"}):
        if name in body:
            return f"{name}: Extra inputs are not permitted"
    betas = body.get("anthropic_beta")
    if (
        "anthropic_beta" in extra
        and betas is not None
        and (not isinstance(betas, list) or not all(isinstance(b, str) and b for b in betas))
    ):
        return "anthropic_beta: Input should be a valid list of strings"
    for name in body:
        if name not in _FIELDS and name not in extra and name != "anthropic_version":
            return f"{name}: Extra inputs are not permitted"
    return None


def as_messages_body(body: JSON, model: str) -> JSON:
    """A platform's Claude body as the Messages API's own: the URL's model in, the
    platform's fields out (so the same rules and the same model answer it)."""
    out = {k: v for k, v in body.items() if k not in ("anthropic_version", "anthropic_beta")}
    return {"model": model, **out}
