"""Reading usage records: pages of records, and last use per key and per token.

Reports grouped by a dimension are in ``reports``; the filters both read through are in
``filters``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import Session

from keyhouse.store.models import UsageHourlyRow as H
from keyhouse.store.models import UsageRecordRow as R
from keyhouse.usage.filters import ADMIN, Filters, record_filters
from keyhouse.usage.sink import hour_of

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
    conditions = record_filters(filters)
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
