"""What a limit is: the ``limits`` object an access token, an endpoint or a key carries.

``{requests_per_minute?, tokens_per_minute?, max_concurrent?,
budget?: {usd, period: day|week|month, action: reject|alert}}`` — the admin API validates
it (``admin.schemas.LimitsIn``); the registry turns the stored JSON into a ``Limits`` once
per load, so the hot path reads plain attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

Period = Literal["day", "week", "month"]
Action = Literal["reject", "alert"]
Scope = Literal["token", "endpoint", "key"]


@dataclass(frozen=True, slots=True)
class Budget:
    usd: float
    period: Period = "month"
    action: Action = "reject"


@dataclass(frozen=True, slots=True)
class Limits:
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    max_concurrent: int | None = None
    budget: Budget | None = None

    @property
    def empty(self) -> bool:
        return (
            self.requests_per_minute is None
            and self.tokens_per_minute is None
            and self.max_concurrent is None
            and self.budget is None
        )

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Limits | None:
        """The stored JSON (already validated on the way in) → Limits, or None if empty."""
        if not data:
            return None
        raw_budget = data.get("budget")
        budget = None
        if isinstance(raw_budget, dict):
            budget = Budget(
                usd=float(raw_budget["usd"]),
                period=raw_budget.get("period", "month"),
                action=raw_budget.get("action", "reject"),
            )
        limits = cls(
            requests_per_minute=_int(data.get("requests_per_minute")),
            tokens_per_minute=_int(data.get("tokens_per_minute")),
            max_concurrent=_int(data.get("max_concurrent")),
            budget=budget,
        )
        return None if limits.empty else limits


@dataclass(frozen=True, slots=True)
class Subject:
    """Who a limit belongs to: the counters are keyed by the immutable id."""

    scope: Scope
    id: str
    name: str
    limits: Limits


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None


def period_window(period: Period, now: datetime) -> tuple[datetime, datetime]:
    """The UTC calendar period holding ``now``: [start, end). Weeks start on Monday."""
    now = now.astimezone(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day, day + timedelta(days=1)
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    start = day.replace(day=1)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end
