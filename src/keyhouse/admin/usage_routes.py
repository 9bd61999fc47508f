"""``/api/v1/usage`` (reports), ``/api/v1/usage/requests`` (the records), ``/metrics``."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from keyhouse.admin.auth import bearer
from keyhouse.admin.deps import AdminDep, ServicesDep
from keyhouse.admin.schemas import UsageWindow
from keyhouse.errors import BadRequest, Unauthorized
from keyhouse.store.store import Store
from keyhouse.usage import queries, reports
from keyhouse.usage.filters import Filters, resolve_filter
from keyhouse.usage.metrics import CONTENT_TYPE
from keyhouse.usage.reports import GroupBy
from keyhouse.usage.service import UsageService

router = APIRouter(prefix="/api/v1/usage", tags=["usage"])
metrics_router = APIRouter(tags=["metrics"])

Filter = Annotated[str | None, Query(max_length=64)]
DEFAULT_RANGE = timedelta(days=7)


class UsageCounters(BaseModel):
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    cost_usd: float
    latency_ms_p50: float | None
    latency_ms_p95: float | None


class UsageRow(UsageCounters):
    group: str  # a name, or the ISO start of a day or hour
    group_id: str | None  # the endpoint, key or token id of the row


class UsageReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from")
    to: datetime
    group_by: GroupBy
    rows: list[UsageRow]
    totals: UsageCounters


class UsageRef(BaseModel):
    id: str | None
    name: str | None


class UsageRecordView(BaseModel):
    id: str
    at: datetime
    operation: str
    endpoint: UsageRef
    key: UsageRef | None
    credential_version: int | None
    provider: str | None
    model: str | None
    token: UsageRef | Literal["admin"]
    status: int
    error_code: str | None
    stream: bool
    latency_ms: float
    ttfb_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    cached_input_tokens: int | None
    cache_write_tokens: int | None
    cost_usd: float | None
    attempts: int
    fallback_used: bool


class UsageRequests(BaseModel):
    records: list[UsageRecordView]
    next_before: str | None  # pass as ``before`` for the next page; null on the last


def _range(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    end = _utc(end) if end is not None else datetime.now(UTC)
    start = _utc(start) if start is not None else end - DEFAULT_RANGE
    if start >= end:
        raise BadRequest("'from' must be before 'to'.", param="from")
    if end - start > timedelta(days=400):
        raise BadRequest("A report spans at most 400 days.", param="from")
    return start, end


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@router.get("", response_model=UsageReport, response_model_by_alias=True)
def usage_report(
    admin: AdminDep,
    services: ServicesDep,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    group_by: GroupBy = "day",
    endpoint: Filter = None,
    key: Filter = None,
    token: Filter = None,
) -> UsageReport:
    """Counters over [from, to) (default: the last 7 days), grouped by one dimension;
    filters take an id or the current name of an endpoint, key or token ('admin' for the
    admin token)."""
    start, end = _range(start, end)
    with services.store.read() as session:
        filters = Filters(
            endpoint=resolve_filter(session, "endpoint", endpoint),
            key=resolve_filter(session, "key", key),
            token=resolve_filter(session, "token", token),
        )
        report = reports.report(session, start, end, group_by, filters)
    return UsageReport.model_validate(report)


@router.get("/requests", response_model=UsageRequests)
def usage_requests(
    admin: AdminDep,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[str | None, Query(max_length=32, pattern=r"^[0-9a-f]+$")] = None,
    endpoint: Filter = None,
    key: Filter = None,
    token: Filter = None,
    status: Annotated[str | None, Query(pattern=r"^(ok|error|[1-5][0-9][0-9])$")] = None,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
) -> UsageRequests:
    """The records, newest first; ``before`` is the ``next_before`` of the previous page."""
    with services.store.read() as session:
        filters = Filters(
            endpoint=resolve_filter(session, "endpoint", endpoint),
            key=resolve_filter(session, "key", key),
            token=resolve_filter(session, "token", token),
        )
        records, cursor = queries.requests_page(
            session,
            limit,
            before,
            filters,
            status,
            _utc(start) if start else None,
            _utc(end) if end else None,
        )
    return UsageRequests(
        records=[UsageRecordView.model_validate(r) for r in records], next_before=cursor
    )


@metrics_router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text; the admin token or ``KEYHOUSE_METRICS_TOKEN`` as a bearer."""
    token = bearer(request)
    if token is None:
        raise Unauthorized("Send the admin token or the metrics token as a bearer token.")
    allowed = request.app.state.services.registry.is_admin_token(token)
    expected = request.app.state.settings.metrics_token
    if expected is not None:
        allowed |= hmac.compare_digest(token.encode(), expected.get_secret_value().encode())
    if not allowed:
        raise Unauthorized("That token may not read the metrics.")
    usage: UsageService = request.app.state.usage
    return Response(usage.metrics.render(usage.writer.pending), media_type=CONTENT_TYPE)


# --- last use on the key and token views --------------------------------------------------

V = TypeVar("V", bound=BaseModel)


def with_usage(store: Store, dimension: Literal["key", "token"], views: list[V]) -> list[V]:
    """The views with ``last_used_at`` and ``usage_7d`` filled in."""
    ids = [str(getattr(v, "id")) for v in views]  # noqa: B009 - any view with an id
    if not ids:
        return views
    with store.read() as session:
        last = queries.last_used(session, dimension, ids)
        week = queries.usage_since(session, dimension, ids, days=7)
    return [
        v.model_copy(
            update={"last_used_at": last.get(i), "usage_7d": UsageWindow(**week.get(i, {}))}
        )
        for v, i in zip(views, ids, strict=True)
    ]


def recent_callers(store: Store, key_id: str) -> list[dict[str, Any]]:
    """For the delete-key 409: the tokens that called through the key in 7 days."""
    with store.read() as session:
        callers = queries.recent_callers(session, key_id, days=7)
    return [
        {**c, "last_used_at": c["last_used_at"].isoformat() if c["last_used_at"] else None}
        for c in callers
    ]
