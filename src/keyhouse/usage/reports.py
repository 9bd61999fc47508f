"""Usage reports: the counters of [from, to) grouped by one dimension, with totals.

A report over [from, to) reads the whole hours inside it from ``usage_hourly`` and only
the partial hours at its two edges from ``usage_records`` — so a 30-day report reads
hundreds of counter rows per hour, never a million records. Latency percentiles come
from the merged per-hour histograms (interpolated inside a bucket).

Separate from ``queries`` (pages of records, last use): this is the one reader that
merges counter tables and records, and it owns how their rows add up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

from sqlalchemy import ColumnElement, Integer, and_, case, func, literal_column, select
from sqlalchemy.orm import Session

from keyhouse.store.models import UsageDailyRow as D
from keyhouse.store.models import UsageHourlyRow as H
from keyhouse.store.models import UsageRecordRow as R
from keyhouse.usage.filters import ADMIN, Counted, Filters, counted_filters, record_filters
from keyhouse.usage.record import LATENCY_BOUNDS_MS, LATENCY_BUCKETS
from keyhouse.usage.sink import LATENCY_COLUMNS, SUMMED, hour_of, hour_start

GroupBy = Literal["endpoint", "key", "token", "model", "provider", "day", "hour"]
GROUPS: tuple[str, ...] = get_args(GroupBy)
_DAY = literal_column("24", Integer)


@dataclass(slots=True)
class Counters:
    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0
    latency: list[int] = field(default_factory=lambda: [0] * LATENCY_BUCKETS)

    def add(self, row: Any) -> None:
        self.requests += int(row.requests or 0)
        self.errors += int(row.errors or 0)
        self.input_tokens += int(row.input_tokens or 0)
        self.output_tokens += int(row.output_tokens or 0)
        self.cached_input_tokens += int(row.cached_input_tokens or 0)
        self.cache_write_tokens += int(row.cache_write_tokens or 0)
        self.cost_usd += float(row.cost_usd or 0.0)
        for i, name in enumerate(LATENCY_COLUMNS):
            self.latency[i] += int(getattr(row, name) or 0)

    def view(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_input_tokens": self.cached_input_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cost_usd": round(self.cost_usd, 10),
            "latency_ms_p50": percentile(self.latency, 0.50),
            "latency_ms_p95": percentile(self.latency, 0.95),
        }


def percentile(histogram: Sequence[int], q: float) -> float | None:
    total = sum(histogram)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(histogram):
        if count and seen + count >= rank:
            low = LATENCY_BOUNDS_MS[i - 1] if i > 0 else 0.0
            high = LATENCY_BOUNDS_MS[i] if i < len(LATENCY_BOUNDS_MS) else low * 2
            return round(low + (high - low) * (rank - seen) / count, 1)
        seen += count
    return None  # pragma: no cover - the loop always reaches the rank


# --- reports ----------------------------------------------------------------------------


def _counted_group(group_by: str, T: Counted) -> list[Any]:
    groups: dict[str, list[Any]] = {
        "endpoint": [T.endpoint_id, func.max(T.endpoint_name)],
        "key": [T.key_id, func.max(T.key_name)],
        "token": [T.token_id, func.max(T.token_name)],
        "model": [T.model, T.model],
        "provider": [T.provider, T.provider],
        # A literal, not a bound parameter: PostgreSQL must see the GROUP BY expression
        # and the selected one as the same.
        "day": [T.hour // _DAY, T.hour // _DAY],
        "hour": [T.hour, T.hour],
    }
    return groups[group_by]


def _record_group(group_by: str) -> list[Any]:
    groups: dict[str, list[Any]] = {
        "endpoint": [func.coalesce(R.endpoint_id, ""), func.max(R.endpoint_name)],
        "key": [func.coalesce(R.key_id, ""), func.max(R.key_name)],
        "token": [func.coalesce(R.token_id, ""), func.max(R.token_name)],
        "model": [func.coalesce(R.model, ""), func.max(R.model)],
        "provider": [func.coalesce(R.provider, ""), func.max(R.provider)],
    }
    return groups[group_by]


def _record_counters() -> list[ColumnElement[Any]]:
    columns: list[ColumnElement[Any]] = [
        func.count().label("requests"),
        func.sum(case((R.status >= 400, 1), else_=0)).label("errors"),
        func.sum(R.input_tokens).label("input_tokens"),
        func.sum(R.output_tokens).label("output_tokens"),
        func.sum(R.cached_input_tokens).label("cached_input_tokens"),
        func.sum(R.cache_write_tokens).label("cache_write_tokens"),
        func.sum(R.cost_usd).label("cost_usd"),
    ]
    bounds = (0.0, *LATENCY_BOUNDS_MS)
    for i, name in enumerate(LATENCY_COLUMNS):
        # The same buckets as record.latency_bucket: (bounds[i], bounds[i+1]].
        if i == 0:
            cond = R.latency_ms <= LATENCY_BOUNDS_MS[0]
        elif i < len(LATENCY_BOUNDS_MS):
            cond = and_(R.latency_ms > bounds[i], R.latency_ms <= LATENCY_BOUNDS_MS[i])
        else:
            cond = R.latency_ms > LATENCY_BOUNDS_MS[-1]
        columns.append(func.sum(case((cond, 1), else_=0)).label(name))
    return columns


def _counted_sums(T: Counted) -> list[ColumnElement[Any]]:
    return [func.sum(T.__table__.c[n]).label(n) for n in SUMMED]


@dataclass(slots=True)
class _Group:
    name: str
    counters: Counters = field(default_factory=Counters)


def report(
    session: Session, start: datetime, end: datetime, group_by: str, filters: Filters = Filters()
) -> dict[str, Any]:
    """``{from, to, group_by, rows: [...], totals: {...}}`` over [start, end).

    Whole days come from the daily counters, whole hours around them from the hourly
    ones, and the minutes at the two ends from the records."""
    assert group_by in GROUPS
    acc = _Accumulator(group_by)
    spans = [(start, end)]
    if group_by != "hour":
        first_day, last_day = _whole(start, end, 24)
        if first_day < last_day:
            acc.counted(session, D, first_day, last_day, filters)
            spans = [(start, hour_start(first_day)), (hour_start(last_day), end)]
    for low, high in spans:
        if low >= high:
            continue
        first_hour, last_hour = _whole(low, high, 1)
        edges = [(low, high)]
        if first_hour < last_hour:
            acc.counted(session, H, first_hour, last_hour, filters)
            edges = [(low, hour_start(first_hour)), (hour_start(last_hour), high)]
        for edge_low, edge_high in edges:
            if edge_low < edge_high:
                acc.recorded(session, edge_low, edge_high, filters)
    rows = (
        _time_rows(acc.groups, start, end, group_by)
        if acc.time_group
        else _entity_rows(acc.groups, group_by)
    )
    return {
        "from": start,
        "to": end,
        "group_by": group_by,
        "rows": rows,
        "totals": acc.totals.view(),
    }


def _whole(start: datetime, end: datetime, hours: int) -> tuple[int, int]:
    """The first and the end (exclusive) hour of the whole periods inside [start, end)."""
    first = -(-int(start.timestamp()) // (3600 * hours)) * hours
    last = int(end.timestamp()) // (3600 * hours) * hours
    return first, last


class _Accumulator:
    def __init__(self, group_by: str) -> None:
        self.group_by = group_by
        self.time_group = group_by in ("day", "hour")
        self.groups: dict[Any, _Group] = {}
        self.totals = Counters()

    def take(self, key: Any, name: str, row: Any) -> None:
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = _Group(name)
        elif name and name > group.name and not self.time_group:
            group.name = name
        group.counters.add(row)
        self.totals.add(row)

    def counted(
        self, session: Session, T: Counted, first: int, last: int, filters: Filters
    ) -> None:
        key_col, name_col = _counted_group(self.group_by, T)
        query = (
            select(key_col.label("g"), name_col.label("n"), *_counted_sums(T))
            .where(T.hour >= first, T.hour < last, *counted_filters(filters, T))
            .group_by(key_col)
        )
        for row in session.execute(query):
            self.take(row.g, row.n or "", row)

    def recorded(self, session: Session, low: datetime, high: datetime, filters: Filters) -> None:
        """Records of [low, high), which lies inside one hour."""
        conditions = [R.at >= low, R.at < high, *record_filters(filters)]
        if self.time_group:
            hour = hour_of(low)
            key = hour // 24 if self.group_by == "day" else hour
            for row in session.execute(select(*_record_counters()).where(*conditions)):
                if row.requests:
                    self.take(key, "", row)
            return
        key_col, name_col = _record_group(self.group_by)
        query = (
            select(key_col.label("g"), name_col.label("n"), *_record_counters())
            .where(*conditions)
            .group_by(key_col)
        )
        for row in session.execute(query):
            self.take(row.g, row.n or "", row)


def _entity_rows(groups: dict[Any, _Group], group_by: str) -> list[dict[str, Any]]:
    rows = []
    for key, group in groups.items():
        name = group.name or key or ""
        if group_by == "token" and not key:
            name = ADMIN
        elif group_by == "key" and not key:
            name = "(no key)"
        rows.append({"group": name, "group_id": key or None, **group.counters.view()})
    rows.sort(key=lambda r: (-r["requests"], r["group"]))
    return rows


def _time_rows(
    groups: dict[Any, _Group], start: datetime, end: datetime, group_by: str
) -> list[dict[str, Any]]:
    """Every day (or hour) of the range, the quiet ones as zeros: a chart's x axis."""
    step = 24 if group_by == "day" else 1
    first = hour_of(start) // step
    last = (hour_of(end - timedelta(microseconds=1))) // step
    rows = []
    for key in range(first, last + 1):
        group = groups.get(key)
        counters = group.counters if group else Counters()
        rows.append(
            {"group": hour_start(key * step).isoformat(), "group_id": None, **counters.view()}
        )
    return rows
