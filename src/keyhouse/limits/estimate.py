"""What a call may use, guessed before it is sent: its token estimate for the rate limits
and the sizes its budget reservation is priced from. No tokenizer on the hot path."""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]


def max_tokens(body: JSON) -> int | None:
    for name in ("max_completion_tokens", "max_tokens", "max_output_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def input_estimate(body: JSON) -> int:
    """Tokens the prompt may take: a generous guess from its text (about one token per
    three characters), computed without a tokenizer on the hot path."""
    chars = (
        _text_length(body.get("messages"))
        + _text_length(body.get("input"))
        + _text_length(body.get("system"))
        + _text_length(body.get("instructions"))
    )
    return chars // 3 + 16


def _text_length(value: Any, depth: int = 0) -> int:
    if isinstance(value, str):
        return len(value)
    if depth > 8:
        return 0
    if isinstance(value, list):
        return sum(_text_length(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return sum(_text_length(v, depth + 1) for v in value.values())
    return 0
