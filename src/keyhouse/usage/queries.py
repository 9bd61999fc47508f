"""Reading usage: reports grouped by a dimension, pages of records, last use.

A report over [from, to) reads the whole hours inside it from ``usage_hourly`` and only
the partial hours at its two edges from ``usage_records`` — so a 30-day report reads
hundreds of counter rows per hour, never a million records. Latency percentiles come
from the merged per-hour histograms (interpolated inside a bucket).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Integer, and_, case, func, literal_column, select, tuple_
from sqlalchemy.orm import Session

from keyhouse.store.models import AccessTokenRow, ApiKeyRow, EndpointRow
from keyhouse.store.models import UsageDailyRow as D
from keyhouse.store.models import UsageHourlyRow as H
from keyhouse.store.models import UsageRecordRow as R
from keyhouse.usage.record import LATENCY_BOUNDS_MS, LATENCY_BUCKETS
from keyhouse.usage.sink import LATENCY_COLUMNS, hour_of, hour_start

GroupBy = Literal["endpoint", "key", "token", "model", "provider", "day", "hour"]
GROUPS: tuple[str, ...] = ("endpoint", "key", "token", "model", "provider", "day", "hour")
ADMIN = "admin"
_DAY = literal_column("24", Integer)


@dataclass(frozen=True, slots=True)
class Filters:
    """Ids to keep (None: any). ``token == "admin"`` keeps the admin token's calls."""

    endpoint: str | None = None
    key: str | None = None
    token: str | None = None


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


Counted = type[H] | type[D]


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


def _counted_filters(filters: Filters, T: Counted) -> list[ColumnElement[bool]]:
    out = []
    if filters.endpoint is not None:
        out.append(T.endpoint_id == filters.endpoint)
    if filters.key is not None:
        out.append(T.key_id == filters.key)
    if filters.token is not None:
        out.append(T.token_id == ("" if filters.token == ADMIN else filters.token))
    return out


def _record_filters(filters: Filters) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if filters.endpoint is not None:
        out.append(R.endpoint_id == filters.endpoint)
    if filters.key is not None:
        out.append(R.key_id == filters.key)
    if filters.token == ADMIN:
        out.append(R.is_admin.is_(True))
    elif filters.token is not None:
        out.append(R.token_id == filters.token)
    return out


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
    names = (
        "requests",
        "errors",
        "input_tokens",
        "output_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "cost_usd",
        *LATENCY_COLUMNS,
    )
    return [func.sum(T.__table__.c[n]).label(n) for n in names]


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
            .where(T.hour >= first, T.hour < last, *_counted_filters(filters, T))
            .group_by(key_col)
        )
        for row in session.execute(query):
            self.take(row.g, row.n or "", row)

    def recorded(self, session: Session, low: datetime, high: datetime, filters: Filters) -> None:
        """Records of [low, high), which lies inside one hour."""
        conditions = [R.at >= low, R.at < high, *_record_filters(filters)]
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


# --- records ----------------------------------------------------------------------------


def record_view(r: R) -> dict[str, Any]:
    return {
        "id": r.id,
        "at": r.at,
        "operation": r.operation,
        "endpoint": {"id": r.endpoint_id, "name": r.endpoint_name},
        "key": {"id": r.key_id, "name": r.key_name} if r.key_id else None,
        "credential_version": r.credential_version,
        "provider": r.provider,
        "model": r.model,
        "token": ADMIN if r.is_admin else {"id": r.token_id, "name": r.token_name},
        "status": r.status,
        "error_code": r.error_code,
        "stream": r.stream,
        "latency_ms": round(r.latency_ms, 1),
        "ttfb_ms": None if r.ttfb_ms is None else round(r.ttfb_ms, 1),
        "input_tokens": r.input_tokens,
        "output_tokens": r.output_tokens,
        "cached_input_tokens": r.cached_input_tokens,
        "cache_write_tokens": r.cache_write_tokens,
        "cost_usd": r.cost_usd,
        "attempts": r.attempts,
        "fallback_used": r.fallback_used,
    }


def requests_page(
    session: Session,
    limit: int,
    before: str | None = None,
    filters: Filters = Filters(),
    status: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Records newest first; ``before`` is the id of the last record of the previous
    page. Returns the page and the cursor of the next one (None at the end)."""
    conditions = _record_filters(filters)
    if before is not None:
        cursor = session.execute(select(R.at, R.id).where(R.id == before)).first()
        if cursor is None:
            return [], None
        conditions.append(tuple_(R.at, R.id) < tuple_(cursor.at, cursor.id))
    if status == "error":
        conditions.append(R.status >= 400)
    elif status == "ok":
        conditions.append(R.status < 400)
    elif status is not None:
        conditions.append(R.status == int(status))
    if start is not None:
        conditions.append(R.at >= start)
    if end is not None:
        conditions.append(R.at < end)
    rows = list(
        session.scalars(
            select(R).where(*conditions).order_by(R.at.desc(), R.id.desc()).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return [record_view(r) for r in rows], rows[-1].id if more and rows else None


# --- last use, per key and per token -------------------------------------------------------


def last_used(
    session: Session, dimension: Literal["key", "token"], ids: Iterable[str]
) -> dict[str, datetime]:
    """The newest record per id: one index probe each, however many records there are."""
    column = R.key_id if dimension == "key" else R.token_id
    out = {}
    for id_ in ids:
        at = session.scalar(select(func.max(R.at)).where(column == id_))
        if at is not None:
            out[id_] = at if at.tzinfo else at.replace(tzinfo=UTC)
    return out


def usage_since(
    session: Session,
    dimension: Literal["key", "token"],
    ids: Sequence[str],
    days: int = 7,
    now: datetime | None = None,
) -> dict[str, dict[str, Any]]:
    """``{requests, errors, cost_usd}`` per id over the last ``days`` (by the hour)."""
    if not ids:
        return {}
    column = H.key_id if dimension == "key" else H.token_id
    since = hour_of((now or datetime.now(UTC)) - timedelta(days=days))
    query = (
        select(column, func.sum(H.requests), func.sum(H.errors), func.sum(H.cost_usd))
        .where(column.in_(list(ids)), H.hour >= since)
        .group_by(column)
    )
    return {
        i: {"requests": int(n or 0), "errors": int(e or 0), "cost_usd": round(float(c or 0.0), 10)}
        for i, n, e, c in session.execute(query)
    }


def recent_callers(
    session: Session, key_id: str, days: int = 7, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The tokens that called through a key lately: who breaks if it goes."""
    since = hour_of((now or datetime.now(UTC)) - timedelta(days=days))
    query = (
        select(H.token_id, func.max(H.token_name), func.sum(H.requests), func.max(H.last_at))
        .where(H.key_id == key_id, H.hour >= since)
        .group_by(H.token_id)
    )
    callers: list[dict[str, Any]] = []
    for token_id, name, requests, last in session.execute(query):
        callers.append(
            {
                "token": {"id": token_id, "name": name} if token_id else ADMIN,
                "requests": int(requests or 0),
                "last_used_at": last if last is None or last.tzinfo else last.replace(tzinfo=UTC),
            }
        )
    callers.sort(key=lambda c: -int(c["requests"]))
    return callers


def resolve_filter(session: Session, dimension: str, value: str | None) -> str | None:
    """A filter given as the current name of an endpoint, key or token → its id; any
    other value is taken as an id (that of a deleted one, say)."""
    if value is None or (dimension == "token" and value == ADMIN):
        return value
    tables: dict[str, Any] = {"endpoint": EndpointRow, "key": ApiKeyRow, "token": AccessTokenRow}
    table = tables[dimension]
    found = session.scalar(select(table.id).where(table.name == value).limit(1))
    return found if found is not None else value
