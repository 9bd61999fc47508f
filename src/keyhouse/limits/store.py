"""Where limit counters live, and the in-process backend.

Admission is one atomic call over every applicable check: each check is evaluated, and
only when all allow the call is any counter changed — so a call refused by its endpoint's
limit never consumes its token's (the check-then-increment race parallel callers use to
overspend elsewhere). ``settle`` is the one call at the end: it returns a concurrency
slot, corrects a token estimate to the real count and a budget reservation to the real
cost.

Counters:
- ``Rate``: a token bucket of ``capacity`` per minute, refilled continuously; a call needs
  ``min(cost, capacity)`` in the bucket and takes ``cost`` (the bucket may go into debt
  when a settled count is larger than the estimate, which delays the next calls).
- ``Slots``: leases in a set, each with an expiry, so a replica that dies holding slots
  cannot leak them for longer than the lease.
- ``Spend``: integer nano-USD per budget period (the key names the period).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

RateKind = Literal["requests", "tokens"]


@dataclass(frozen=True, slots=True)
class Rate:
    key: str
    capacity: int
    cost: int
    kind: RateKind


@dataclass(frozen=True, slots=True)
class Slots:
    key: str
    limit: int
    lease_seconds: float


@dataclass(frozen=True, slots=True)
class Spend:
    key: str
    limit: int  # nano-USD
    reserve: int  # nano-USD
    ttl_seconds: int  # until the period ends (the key dies with its period)
    enforce: bool  # reject over the limit; False: alert only
    period_start: datetime | None = field(default=None, compare=False)


Check = Rate | Slots | Spend


@dataclass(frozen=True, slots=True)
class Refund:
    """Settle a rate check: give back ``estimate - actual`` (negative: take more)."""

    key: str
    capacity: int
    delta: int


@dataclass(frozen=True, slots=True)
class Release:
    key: str


@dataclass(frozen=True, slots=True)
class Charge:
    """Settle a budget: add ``actual - reserved``; ``alert_limit`` set asks to be told
    (once per period) when the spend reached it."""

    key: str
    delta: int
    alert_limit: int | None
    ttl_seconds: int


Settlement = Refund | Release | Charge


@dataclass(frozen=True, slots=True)
class RateState:
    """A rate check after admission: for the ``x-ratelimit-*`` headers."""

    kind: RateKind
    limit: int
    remaining: int
    reset_seconds: float


@dataclass(frozen=True, slots=True)
class Verdict:
    admitted: bool
    refused: Check | None = None
    retry_after: float = 0.0
    rates: tuple[RateState, ...] = ()


class LimitStoreError(Exception):
    """The shared store could not be reached or answered badly (never carries a value)."""


class LimitStore(Protocol):
    name: str  # "memory" or "redis"
    shared: bool  # whether every replica sees the same counters

    async def admit(self, checks: list[Check], lease: str) -> Verdict: ...

    async def settle(self, settlements: list[Settlement], lease: str) -> list[str]:
        """Apply the settlements; the keys of budgets that just reached their alert limit
        for the first time in their period."""

    async def peek(self, checks: list[Check]) -> list[float]:
        """Each check's current value (bucket level, slots in use, nano-USD spent),
        changing nothing."""

    async def ping(self) -> None: ...

    async def aclose(self) -> None: ...


def refill(value: float, stamp: float, capacity: int, now: float) -> float:
    return min(float(capacity), value + max(0.0, now - stamp) * capacity / 60.0)


def rate_state(kind: RateKind, capacity: int, value: float) -> RateState:
    per_second = capacity / 60.0
    return RateState(
        kind, capacity, max(0, math.floor(value)), max(0.0, (capacity - value) / per_second)
    )


@dataclass
class _Bucket:
    value: float
    stamp: float


class MemoryStore:
    """Per-process counters: exact within one process, and only there."""

    name = "memory"
    shared = False

    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._leases: dict[str, dict[str, float]] = {}
        self._spend: dict[str, tuple[int, float]] = {}  # key -> (nano-USD, expires at)
        self._alerted: dict[str, float] = {}

    async def admit(self, checks: list[Check], lease: str) -> Verdict:
        now = time.time()
        retry = 0.0
        refused: Check | None = None
        values: list[float] = []
        for check in checks:
            if isinstance(check, Rate):
                bucket = self._buckets.get(check.key)
                value = (
                    refill(bucket.value, bucket.stamp, check.capacity, now)
                    if bucket
                    else float(check.capacity)
                )
                values.append(value)
                need = min(check.cost, check.capacity)
                if value < need:
                    refused = refused or check
                    retry = max(retry, (need - value) * 60.0 / check.capacity)
            elif isinstance(check, Slots):
                leases = self._live_leases(check.key, now)
                values.append(len(leases))
                if len(leases) >= check.limit:
                    refused = refused or check
                    retry = max(retry, 1.0)
            else:
                used = self._spent(check.key, now)
                values.append(used)
                if check.enforce and used + check.reserve > check.limit:
                    refused = refused or check
                    retry = max(retry, float(check.ttl_seconds))
        if refused is not None:
            return Verdict(False, refused, retry, self._states(checks, values))
        after: list[float] = []
        for check, value in zip(checks, values, strict=True):
            if isinstance(check, Rate):
                left = value - check.cost
                self._buckets[check.key] = _Bucket(left, now)
                after.append(left)
            elif isinstance(check, Slots):
                self._leases.setdefault(check.key, {})[lease] = now + check.lease_seconds
                after.append(value)
            else:
                self._spend[check.key] = (int(value) + check.reserve, now + check.ttl_seconds)
                after.append(value)
        return Verdict(True, rates=self._states(checks, after))

    async def settle(self, settlements: list[Settlement], lease: str) -> list[str]:
        return self.settle_now(settlements, lease)

    def settle_now(self, settlements: list[Settlement], lease: str) -> list[str]:
        now = time.time()
        crossed: list[str] = []
        for item in settlements:
            if isinstance(item, Refund):
                bucket = self._buckets.get(item.key)
                value = (
                    refill(bucket.value, bucket.stamp, item.capacity, now)
                    if bucket
                    else float(item.capacity)
                )
                self._buckets[item.key] = _Bucket(
                    min(float(item.capacity), value + item.delta), now
                )
            elif isinstance(item, Release):
                self._leases.get(item.key, {}).pop(lease, None)
            else:
                used = self._spent(item.key, now) + item.delta
                self._spend[item.key] = (used, now + item.ttl_seconds)
                if (
                    item.alert_limit is not None
                    and used >= item.alert_limit
                    and self._alerted.get(item.key, 0.0) <= now
                ):
                    self._alerted[item.key] = now + item.ttl_seconds
                    crossed.append(item.key)
        return crossed

    async def peek(self, checks: list[Check]) -> list[float]:
        now = time.time()
        out: list[float] = []
        for check in checks:
            if isinstance(check, Rate):
                bucket = self._buckets.get(check.key)
                out.append(
                    refill(bucket.value, bucket.stamp, check.capacity, now)
                    if bucket
                    else float(check.capacity)
                )
            elif isinstance(check, Slots):
                out.append(float(len(self._live_leases(check.key, now))))
            else:
                out.append(float(self._spent(check.key, now)))
        return out

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def _live_leases(self, key: str, now: float) -> dict[str, float]:
        leases = self._leases.setdefault(key, {})
        for lease_id in [k for k, expires in leases.items() if expires <= now]:
            del leases[lease_id]
        return leases

    def _spent(self, key: str, now: float) -> int:
        hit = self._spend.get(key)
        if hit is None or hit[1] <= now:
            return 0
        return hit[0]

    @staticmethod
    def _states(checks: list[Check], values: list[float]) -> tuple[RateState, ...]:
        return tuple(
            rate_state(c.kind, c.capacity, v)
            for c, v in zip(checks, values, strict=True)
            if isinstance(c, Rate)
        )
