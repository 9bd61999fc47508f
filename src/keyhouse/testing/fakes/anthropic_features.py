"""What the Anthropic fake checks and reports beyond plain messages: extended thinking
(its rules, and signatures on thinking blocks that only the fake itself can have made),
prompt caching (``cache_control`` where the API allows it, at most four breakpoints, TTL
order) with ``cache_creation_input_tokens`` / ``cache_read_input_tokens`` in usage, and
``count_tokens``.

Tokens are the fake's usual words. The cache remembers the prefix (tools, system,
messages) up to each breakpoint: a later request with the same prefix reads it. The real
API's minimum cacheable length (1024 tokens) is not modelled, so short test prompts
cache too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

JSON = dict[str, Any]

MAX_BREAKPOINTS = 4
_THINKING_TYPES = {"enabled", "disabled", "adaptive", "between_tools"}
_NO_CACHE_BLOCKS = {"thinking", "redacted_thinking"}
COUNT_FIELDS = {
    "model",
    "messages",
    "system",
    "tools",
    "tool_choice",
    "thinking",
    "mcp_servers",
    "context_management",
    "output_config",
}


def thinking_on(body: JSON) -> bool:
    return (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")


class Signer:
    """Signs the fake's own thinking blocks, so a block a client altered (or a gateway
    rewrote) is refused as the real API refuses it. Like the real signature, it carries
    the thinking itself: with ``display: "omitted"`` the block comes back with empty
    thinking and only the signature, which must verify on the next turn."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, thinking: str) -> bytes:
        return hmac.new(self._key, thinking.encode(), hashlib.sha256).digest()

    def sign(self, thinking: str) -> str:
        return base64.b64encode(b"EqQB" + self._mac(thinking) + thinking.encode()).decode()

    def valid(self, thinking: str, signature: Any) -> bool:
        try:
            raw = base64.b64decode(signature, validate=True)
        except (TypeError, ValueError):
            return False
        mac, signed = raw[4:36], raw[36:].decode("utf-8", "replace")
        return (
            raw[:4] == b"EqQB"
            and hmac.compare_digest(mac, self._mac(signed))
            and thinking in (signed, "")
        )


def omitted(body: JSON) -> bool:
    return (body.get("thinking") or {}).get("display") == "omitted"


def _cache_problem(where: str, block: Any) -> str | None:
    control = block.get("cache_control") if isinstance(block, dict) else None
    if control is None:
        return None
    if not isinstance(control, dict) or control.get("type") != "ephemeral":
        return f"{where}.cache_control.type: Input should be 'ephemeral'"
    if set(control) - {"type", "ttl"}:
        return f"{where}.cache_control: Extra inputs are not permitted"
    if control.get("ttl", "5m") not in ("5m", "1h"):
        return f"{where}.cache_control.ttl: Input should be '5m' or '1h'"
    if block.get("type") in _NO_CACHE_BLOCKS:
        return f"{where}.cache_control: cache_control cannot be set for thinking blocks"
    if block.get("type") == "text" and not block.get("text"):
        return f"{where}: cache_control cannot be set for empty text blocks"
    return None


def _located_blocks(body: JSON) -> list[tuple[str, Any]]:
    """Every block that may carry cache_control, in the cache's prefix order; the
    top-level ``cache_control`` marks the last cacheable one."""
    out = _blocks(body)
    automatic = body.get("cache_control")
    if automatic is not None:
        for i in range(len(out) - 1, -1, -1):
            where, block = out[i]
            if isinstance(block, dict) and block.get("type") not in _NO_CACHE_BLOCKS:
                out[i] = (where, {**block, "cache_control": automatic})
                break
    return out


def _blocks(body: JSON) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = [(f"tools.{i}", t) for i, t in enumerate(body.get("tools") or [])]
    system = body.get("system")
    if isinstance(system, list):
        out += [(f"system.{i}", b) for i, b in enumerate(system)]
    for i, message in enumerate(body.get("messages") or []):
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            out += [(f"messages.{i}.content.{j}", b) for j, b in enumerate(content)]
    return out


def _thinking_problem(body: JSON, signer: Signer) -> str | None:
    thinking = body.get("thinking")
    if thinking is not None:
        kind = thinking.get("type") if isinstance(thinking, dict) else None
        if kind not in _THINKING_TYPES:
            return (
                "thinking.type: Input tag does not match any of the expected tags: "
                "'enabled', 'disabled', 'adaptive', 'between_tools'"
            )
        if set(thinking) - {"type", "budget_tokens", "display"}:
            return "thinking: Extra inputs are not permitted"
        if thinking.get("display") not in (None, "summarized", "omitted"):
            return "thinking.display: Input should be 'summarized' or 'omitted'"
        if kind == "enabled":
            budget = thinking.get("budget_tokens")
            if not isinstance(budget, int) or budget < 1024:
                return (
                    "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
                )
            if "max_tokens" in body and budget >= body["max_tokens"]:
                return "`max_tokens` must be greater than `thinking.budget_tokens`."
    for i, message in enumerate(body.get("messages") or []):
        content = message.get("content")
        for j, block in enumerate([] if isinstance(content, str) else content or []):
            if (
                isinstance(block, dict)
                and block.get("type") == "thinking"
                and not signer.valid(block.get("thinking", ""), block.get("signature"))
            ):
                return f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
    if not thinking_on(body):
        return None
    if body.get("temperature") not in (None, 1):
        return "`temperature` may only be set to 1 when thinking is enabled."
    if body.get("top_k") is not None:
        return "`top_k` must be unset when thinking is enabled."
    if body.get("top_p") is not None and body["top_p"] < 0.95:
        return "`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled."
    if (body.get("tool_choice") or {}).get("type") in ("any", "tool"):
        return "Thinking may not be enabled when tool_choice forces tool use."
    messages = body.get("messages") or []
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") != "assistant":
            continue
        content = messages[i].get("content")
        blocks = [] if isinstance(content, str) else content or []
        if (
            any(b.get("type") == "tool_use" for b in blocks)
            and blocks[0].get("type") not in _NO_CACHE_BLOCKS
        ):
            return (
                f"messages.{i}.content.0.type: Expected `thinking` or "
                f"`redacted_thinking`, but found `{blocks[0].get('type')}`. When "
                "`thinking` is enabled, a final `assistant` message must start with a "
                "thinking block."
            )
        break
    return None


def problem(body: JSON, signer: Signer) -> str | None:
    """The first thinking or caching problem the real API would report, or None."""
    found = _thinking_problem(body, signer) or _cache_problem(
        "", {"type": "top", "cache_control": body.get("cache_control")}
    )
    if found:
        return found
    marked, ttls = 0, []
    for where, block in _located_blocks(body):
        found = _cache_problem(where, block)
        if found:
            return found
        if isinstance(block, dict) and block.get("cache_control"):
            marked += 1
            ttls.append(block["cache_control"].get("ttl", "5m"))
    if marked > MAX_BREAKPOINTS:
        return (
            f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {marked}."
        )
    if "5m" in ttls and "1h" in ttls[ttls.index("5m") :]:
        return "a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block."
    return None


def _words(block: Any) -> int:
    if isinstance(block, str):
        return len(block.split())
    if not isinstance(block, dict):
        return 0
    if block.get("type") == "text":
        return len(block.get("text", "").split())
    if block.get("type") == "tool_result":
        content = block.get("content")
        return sum(_words(b) for b in ([content] if isinstance(content, str) else content or []))
    return 0


def _plain(block: Any) -> Any:
    return (
        {k: v for k, v in block.items() if k != "cache_control"}
        if isinstance(block, dict)
        else block
    )


class PromptCache:
    """Prefix hashes of earlier requests' breakpoints, as the API's cache holds them."""

    def __init__(self) -> None:
        self.prefixes: set[str] = set()

    def usage(self, body: JSON) -> JSON:
        """Usage's input side: uncached input, cache writes and cache reads."""
        blocks = _located_blocks(body)
        system = body.get("system")
        head: list[Any] = [body.get("model")]
        if isinstance(system, str):
            head.append(system)
        for message in body.get("messages") or []:
            if isinstance(message.get("content"), str):
                head.append(message["content"])  # uncacheable string turns count fully
        total = sum(_words(b) for b in head[1:]) + sum(_words(b) for _, b in blocks)
        read = written = tokens = 0
        ttl_1h = 0
        seen: list[Any] = list(head)
        breakpoints: list[tuple[str, int, str]] = []
        for _, block in blocks:
            seen.append(_plain(block))
            tokens += _words(block)
            if isinstance(block, dict) and block.get("cache_control"):
                digest = hashlib.sha256(json.dumps(seen, sort_keys=True).encode()).hexdigest()
                breakpoints.append((digest, tokens, block["cache_control"].get("ttl", "5m")))
        for digest, upto, _ttl in breakpoints:
            if digest in self.prefixes:
                read = max(read, upto)
        if breakpoints and breakpoints[-1][0] not in self.prefixes:
            written = max(0, breakpoints[-1][1] - read)
            ttl_1h = written if breakpoints[-1][2] == "1h" else 0
        self.prefixes.update(d for d, _, _ in breakpoints)
        return {
            "input_tokens": max(0, total - read - written),
            "cache_creation_input_tokens": written,
            "cache_read_input_tokens": read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": written - ttl_1h,
                "ephemeral_1h_input_tokens": ttl_1h,
            },
        }
