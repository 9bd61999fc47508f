"""Which calls a usage query keeps: the filters of the usage API, as SQL conditions on
the records and on the hourly and daily counters, and a filter given by name as an id.

Separate from ``reports`` and ``queries`` because both read through the same filters,
and ``"admin"`` (the admin token) must mean the same in each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from keyhouse.store.models import AccessTokenRow, ApiKeyRow, EndpointRow
from keyhouse.store.models import UsageDailyRow as D
from keyhouse.store.models import UsageHourlyRow as H
from keyhouse.store.models import UsageRecordRow as R

ADMIN = "admin"

Counted = type[H] | type[D]


@dataclass(frozen=True, slots=True)
class Filters:
    """Ids to keep (None: any). ``token == "admin"`` keeps the admin token's calls."""

    endpoint: str | None = None
    key: str | None = None
    token: str | None = None


def counted_filters(filters: Filters, T: Counted) -> list[ColumnElement[bool]]:
    out = []
    if filters.endpoint is not None:
        out.append(T.endpoint_id == filters.endpoint)
    if filters.key is not None:
        out.append(T.key_id == filters.key)
    if filters.token is not None:
        out.append(T.token_id == ("" if filters.token == ADMIN else filters.token))
    return out


def record_filters(filters: Filters) -> list[ColumnElement[bool]]:
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


def resolve_filter(session: Session, dimension: str, value: str | None) -> str | None:
    """A filter given as the current name of an endpoint, key or token → its id; any
    other value is taken as an id (that of a deleted one, say)."""
    if value is None or (dimension == "token" and value == ADMIN):
        return value
    tables: dict[str, Any] = {"endpoint": EndpointRow, "key": ApiKeyRow, "token": AccessTokenRow}
    table = tables[dimension]
    found = session.scalar(select(table.id).where(table.name == value).limit(1))
    return found if found is not None else value
