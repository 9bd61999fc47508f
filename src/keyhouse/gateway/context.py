"""One gateway call's outcome, filled in as it happens: the hook for usage records,
metrics and limits.

The dispatcher makes a ``CallContext`` per ``/v1`` request and hands it down; the router
records which target served (or failed) and how many attempts it took; the stream writers
record the first byte and the usage chunk; the dispatcher records the status and error
code. When the answer is complete — the last byte of a stream included — the dispatcher
calls every ``on_complete`` hook with the finished context. A hook runs on the event
loop after the answer went out: it must be quick (queue the record, do not write it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from keyhouse.gateway.types import Principal, Target
    from keyhouse.providers.base import Credential

JSON = dict[str, Any]


@dataclass(slots=True)
class CallContext:
    """What one call did. Times are seconds from ``started`` (``time.perf_counter``)."""

    route: str  # the route's path: "/v1/chat/completions", "/v1/messages", ...
    started: float = field(default_factory=time.perf_counter)
    principal: Principal | None = None
    endpoint: str | None = None  # the endpoint's name
    stream: bool = False
    # The target that served (or the last one that failed).
    target_position: int | None = None
    key_id: str | None = None
    credential_version: int | None = None
    provider: str | None = None
    model: str | None = None
    attempts: int = 0
    fallback_used: bool = False  # a target other than the first planned one answered
    status: int = 200
    error_code: str | None = None
    ttfb: float | None = None  # first byte of the answer body to the caller
    latency: float | None = None  # last byte to the caller
    usage: JSON | None = None  # OpenAI-shaped usage, when the provider reported it
    raw_answer: bytes | None = field(default=None, repr=False)

    # --- filled in by the router -------------------------------------------------------

    def target(self, position: int, target: Target) -> None:
        self.target_position = position
        self.fallback_used = position > 0
        self.key_id = target.key_id
        self.provider = target.provider
        self.model = target.model
        self.credential_version = None

    def credential(self, credential: Credential) -> None:
        self.credential_version = credential.version
        self.provider = credential.provider

    # --- filled in by the writers ------------------------------------------------------

    def first_byte(self) -> None:
        if self.ttfb is None:
            self.ttfb = time.perf_counter() - self.started

    def answered(self, answer: JSON | bytes | None) -> None:
        """A whole (non-stream) answer: its usage, read from the bytes when relayed."""
        if isinstance(answer, bytes):
            self.raw_answer = answer
        elif isinstance(answer, dict):
            usage = answer.get("usage")
            if isinstance(usage, dict):
                self.usage = usage

    def failed(self, status: int, code: str) -> None:
        self.status = status
        self.error_code = code

    def finish(self) -> None:
        now = time.perf_counter() - self.started
        if self.ttfb is None:
            self.ttfb = now
        self.latency = now

    def tokens(self) -> JSON | None:
        """The usage, parsed lazily from a relayed answer (only a hook that needs it
        pays for the parse)."""
        if self.usage is None and self.raw_answer is not None:
            try:
                usage = orjson.loads(self.raw_answer).get("usage")
            except (orjson.JSONDecodeError, AttributeError):
                usage = None
            self.usage = usage if isinstance(usage, dict) else None
            self.raw_answer = None
        return self.usage


Hook = Callable[[CallContext], None]
