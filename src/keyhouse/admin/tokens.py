"""Access tokens: what applications present to the gateway (made, listed, rotated here;
hashed and checked as ``keyhouse.admin.sessions`` says)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyhouse.admin.schemas import (
    AccessTokenCreate,
    AccessTokenCreated,
    AccessTokenRotate,
    AccessTokenUpdate,
    AccessTokenView,
    LimitsIn,
    limits_json,
)
from keyhouse.admin.sessions import new_token, token_hash
from keyhouse.admin.validation import FieldErrors
from keyhouse.errors import NotFound
from keyhouse.store.models import (
    AccessTokenRow,
    EndpointRow,
    utcnow,
)
from keyhouse.store.store import Store, audit


@dataclass
class AccessTokenService:
    store: Store

    def create(self, body: AccessTokenCreate, actor: str) -> AccessTokenCreated:
        token = new_token("kh_")
        with self.store.write() as session:
            errors = FieldErrors()
            if body.endpoints is not None:
                _check_endpoints(session, body.endpoints, errors)
            expires_at = _future(body.expires_at, errors)
            errors.raise_if_any()
            row = AccessTokenRow(
                id=str(uuid.uuid4()),
                name=body.name,
                token_hash=token_hash(token),
                prefix=token[:8],
                endpoints=body.endpoints,
                expires_at=expires_at,
                limits=limits_json(body.limits),
            )
            session.add(row)
            audit(
                session,
                actor,
                "access_token.create",
                "access_token",
                row.id,
                row.name,
                endpoints=body.endpoints,
                expires_at=_iso(expires_at),
                limits=row.limits,
            )
            session.flush()
            return AccessTokenCreated(**_view(row).model_dump(), token=token)

    def list(self) -> list[AccessTokenView]:
        with self.store.read() as session:
            rows = session.scalars(select(AccessTokenRow).order_by(AccessTokenRow.name))
            return [_view(r) for r in rows]

    def get(self, token_id: str) -> AccessTokenView:
        with self.store.read() as session:
            return _view(_get(session, token_id))

    def update(self, token_id: str, body: AccessTokenUpdate, actor: str) -> AccessTokenView:
        given = body.model_fields_set
        with self.store.write() as session:
            row = _get(session, token_id, lock=True)
            errors = FieldErrors()
            if "endpoints" in given and body.endpoints is not None:
                _check_endpoints(session, body.endpoints, errors)
            expires_at = _future(body.expires_at, errors) if "expires_at" in given else None
            if "name" in given and body.name is None:
                errors.add("name", "a token must have a name")
            errors.raise_if_any()
            changed = []
            if "name" in given and body.name != row.name:
                row.name = body.name or row.name
                changed.append("name")
            if "endpoints" in given and body.endpoints != row.endpoints:
                row.endpoints = body.endpoints
                changed.append("endpoints")
            if "expires_at" in given and expires_at != row.expires_at:
                row.expires_at = expires_at
                changed.append("expires_at")
            if "limits" in given and limits_json(body.limits) != row.limits:
                row.limits = limits_json(body.limits)
                changed.append("limits")
            if changed:
                audit(
                    session,
                    actor,
                    "access_token.update",
                    "access_token",
                    row.id,
                    row.name,
                    changed=changed,
                )
            session.flush()
            return _view(row)

    def rotate(self, token_id: str, body: AccessTokenRotate, actor: str) -> AccessTokenCreated:
        """A new secret; the replaced one keeps working for ``grace_seconds`` (one
        replaced secret at a time: rotating again ends an earlier grace)."""
        token = new_token("kh_")
        with self.store.write() as session:
            row = _get(session, token_id, lock=True)
            now = utcnow()
            if body.grace_seconds > 0:
                row.previous_hash = row.token_hash
                row.previous_expires_at = now + timedelta(seconds=body.grace_seconds)
            else:
                row.previous_hash = row.previous_expires_at = None
            row.token_hash, row.prefix, row.rotated_at = token_hash(token), token[:8], now
            audit(
                session,
                actor,
                "access_token.rotate",
                "access_token",
                row.id,
                row.name,
                grace_seconds=body.grace_seconds,
            )
            session.flush()
            return AccessTokenCreated(**_view(row).model_dump(), token=token)

    def delete(self, token_id: str, actor: str) -> None:
        with self.store.write() as session:
            # Locked (and, on SQLite, behind the write lock): of two concurrent deletes
            # one finds the row and the other a 404, and only one audit row is written.
            row = _get(session, token_id, lock=True)
            session.delete(row)
            audit(session, actor, "access_token.delete", "access_token", row.id, row.name)


def _get(session: Session, token_id: str, lock: bool = False) -> AccessTokenRow:
    query = select(AccessTokenRow).where(AccessTokenRow.id == token_id)
    if lock:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise NotFound("No access token with that id.")
    return row


def _check_endpoints(session: Session, names: list[str], errors: FieldErrors) -> None:
    known = set(session.scalars(select(EndpointRow.name)))
    for i, name in enumerate(names):
        if name not in known:
            errors.add(f"endpoints.{i}", "no endpoint with that name")


def _future(when: datetime | None, errors: FieldErrors) -> datetime | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if when <= utcnow():
        errors.add("expires_at", "must be in the future")
    return when


def _iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def _view(row: AccessTokenRow) -> AccessTokenView:
    grace = row.previous_expires_at
    return AccessTokenView(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        endpoints=row.endpoints,
        created_at=row.created_at,
        expires_at=row.expires_at,
        limits=LimitsIn.model_validate(row.limits) if row.limits else None,
        rotated_at=row.rotated_at,
        previous_valid_until=grace if grace is not None and grace > utcnow() else None,
    )
