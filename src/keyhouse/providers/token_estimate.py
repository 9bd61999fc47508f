"""An estimate of a Messages API body's input tokens, for ``count_tokens`` on providers
that have no such API.

Roughly four characters a token for English text and JSON (the ratio every major
tokenizer lands near), a flat cost per image and document page the way Anthropic bills
them, and a few tokens of framing per message. It is an estimate and the gateway says
so (``x-keyhouse-token-count: estimate``); it is meant for budgeting a context window,
not for billing.
"""

from __future__ import annotations

import json
import math
from typing import Any

JSON = dict[str, Any]

CHARS_PER_TOKEN = 4.0
IMAGE_TOKENS = 1600  # about a 1.15-megapixel image, Anthropic's resize ceiling
DOCUMENT_TOKENS = 1500
MESSAGE_OVERHEAD = 4


def _block_chars(block: Any) -> tuple[int, int]:
    """(characters, flat tokens) of one content block."""
    if isinstance(block, str):
        return len(block), 0
    if not isinstance(block, dict):
        return 0, 0
    kind = block.get("type")
    if kind == "text":
        return len(block.get("text", "")), 0
    if kind == "image":
        return 0, IMAGE_TOKENS
    if kind == "document":
        source = block.get("source") or {}
        if source.get("type") == "text":
            return len(source.get("data", "")), 0
        return 0, DOCUMENT_TOKENS
    if kind == "tool_use":
        return len(block.get("name", "")) + len(json.dumps(block.get("input") or {})), 0
    if kind == "tool_result":
        return _content_chars(block.get("content"))
    if kind == "thinking":
        return len(block.get("thinking", "")), 0
    return len(json.dumps(block)), 0


def _content_chars(content: Any) -> tuple[int, int]:
    if isinstance(content, str) or not isinstance(content, list):
        return (len(content) if isinstance(content, str) else 0), 0
    chars = flat = 0
    for block in content:
        c, f = _block_chars(block)
        chars, flat = chars + c, flat + f
    return chars, flat


def estimate_input_tokens(body: JSON) -> int:
    chars, flat = _content_chars(body.get("system"))
    for message in body.get("messages") or []:
        c, f = _content_chars(message.get("content") if isinstance(message, dict) else None)
        chars, flat = chars + c, flat + f + MESSAGE_OVERHEAD
    for tool in body.get("tools") or []:
        chars += len(json.dumps(tool))
    return max(1, math.ceil(chars / CHARS_PER_TOKEN) + flat)
