"""The usage record of one gateway call, and what it is counted by."""

from __future__ import annotations

import bisect
import os
import random
import time
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal

Operation = Literal["chat", "embeddings", "messages", "responses"]

# Upper bounds (ms) of the latency histogram buckets; the last bucket is open-ended.
# Spaced so that p50/p95 read from them are within ~20% of the exact value.
LATENCY_BOUNDS_MS: tuple[float, ...] = (
    5,
    10,
    20,
    30,
    50,
    75,
    100,
    150,
    200,
    300,
    500,
    750,
    1000,
    1500,
    2000,
    3000,
    5000,
    7500,
    10_000,
    15_000,
    20_000,
    30_000,
    60_000,
)
LATENCY_BUCKETS = len(LATENCY_BOUNDS_MS) + 1


def latency_bucket(ms: float) -> int:
    return bisect.bisect_left(LATENCY_BOUNDS_MS, ms)


def new_id() -> str:
    """A UUIDv7 (RFC 9562) as 32 hex digits: 48 bits of Unix milliseconds, then 74 random
    bits. Made by the replica, unique across replicas like a UUIDv4, but ids made close
    in time sort close together, so each batch's primary-key inserts land on the last few
    index pages instead of one random page per record: on a table of a million records
    that is most of the insert's cost and of what a commit writes (bench/usage_bench.py).

    The random bits come from a generator of its own, seeded from the OS at start and
    again in a forked child, not ``os.urandom``: an id needs to be unique, not
    unguessable (it is shown only to the admin and grants nothing), and a system call
    per gateway call for it was the one the floor does not make. Not the ``random``
    module's shared generator: code that seeds that one with a constant would give
    replicas the same ids, and a record whose id is taken is not written."""
    rand = _ID_BITS.getrandbits(74)
    value = (
        (time.time_ns() // 1_000_000 & _MS_MASK) << 80
        | 0x7 << 76  # version 7
        | (rand >> 62 & 0xFFF) << 64
        | 0b10 << 62  # the RFC 4122 variant
        | rand & _RAND_B_MASK
    )
    return f"{value:032x}"


_ID_BITS = random.Random()  # noqa: S311 - uniqueness, not secrecy (new_id)
os.register_at_fork(after_in_child=_ID_BITS.seed)
_MS_MASK = (1 << 48) - 1
_RAND_B_MASK = (1 << 62) - 1


# What each token counter holds, for every provider (each adapter's usage conversion
# follows it, and tests/unit/test_usage_tokens.py checks it per provider):
# - input_tokens: every prompt token, including those read from the prompt cache and
#   those written to it (OpenAI's prompt_tokens; Anthropic's input_tokens +
#   cache_read_input_tokens + cache_creation_input_tokens; Converse's inputTokens +
#   cacheReadInputTokens + cacheWriteInputTokens);
# - cached_input_tokens: the prompt tokens read from the cache (billed at the read rate);
# - cache_write_tokens: the prompt tokens written to the cache (billed at the write
#   rate); 0 for a provider that does not report writes (OpenAI, Gemini);
# - output_tokens: every generated token, reasoning included.
# In the OpenAI-shaped usage the adapters hand over, the writes travel as
# ``prompt_tokens_details.cache_write_tokens`` (beside OpenAI's ``cached_tokens``).
CACHE_WRITE = "cache_write_tokens"


@dataclass(slots=True)
class Tokens:
    input: int | None = None
    output: int | None = None
    cached_input: int | None = None
    cache_write: int = 0


def tokens_from_usage(usage: Any) -> Tokens | None:
    """Tokens from an OpenAI-shaped ``usage`` object (every adapter returns that shape;
    prompt tokens include the cached ones, read and written)."""
    if not isinstance(usage, dict):
        return None
    details = usage.get("prompt_tokens_details")
    details = details if isinstance(details, dict) else {}
    return Tokens(
        _count(usage.get("prompt_tokens")),
        _count(usage.get("completion_tokens")),
        _count(details.get("cached_tokens")),
        _count(details.get(CACHE_WRITE)) or 0,
    )


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return max(int(value), 0)


@dataclass(slots=True)
class UsageRecord:
    """Every field PRODUCT.md lists, flat as the table stores it."""

    operation: Operation
    endpoint_id: str | None
    endpoint_name: str | None
    token_id: str | None
    token_name: str | None
    is_admin: bool
    stream: bool
    status: int = 200
    error_code: str | None = None
    key_id: str | None = None
    key_name: str | None = None
    credential_version: int | None = None
    provider: str | None = None
    model: str | None = None
    latency_ms: float = 0.0
    ttfb_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None
    cache_write_tokens: int | None = None
    cost_usd: float | None = None
    attempts: int = 0
    fallback_used: bool = False
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: str = field(default_factory=new_id)

    @property
    def is_error(self) -> bool:
        return self.status >= 400

    def row(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies every value, and the writer calls this
        # for every record.
        return {name: getattr(self, name) for name in _FIELDS}


_FIELDS = tuple(f.name for f in fields(UsageRecord))
