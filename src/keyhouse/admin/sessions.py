"""Tokens and sessions as start-up and the gateway need them, without the admin API's
schemas: random 256-bit values, stored only as SHA-256 hashes.

A fast hash is right here: the tokens carry 256 bits of entropy, so there is nothing to
stretch, and the gateway checks one per request. ``keyhouse serve`` imports this before
its first answer, so it stays free of pydantic models and FastAPI.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from keyhouse.store.models import AdminTokenRow, SessionRow, utcnow
from keyhouse.store.store import Store, audit


def new_token(prefix: str) -> str:
    return f"{prefix}{secrets.token_urlsafe(32)}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ensure_admin_token(store: Store) -> str | None:
    """At first start without KEYHOUSE_ADMIN_TOKEN, make one; return it to print once."""
    with store.read() as session:
        if session.scalar(select(AdminTokenRow.id).limit(1)) is not None:
            return None
    token = new_token("kh_admin_")
    with store.write() as session:
        session.add(AdminTokenRow(id=str(uuid.uuid4()), token_hash=token_hash(token)))
        audit(session, "keyhouse", "admin_token.create", "admin_token", None, None)
    return token


def admin_token_hashes(store: Store) -> list[str]:
    with store.read() as session:
        return list(session.scalars(select(AdminTokenRow.token_hash)))


@dataclass
class SessionService:
    """Web UI sessions: the cookie holds a random id; the database only its hash, so
    signing out (or a leaked database) cannot be turned into a live session."""

    store: Store
    ttl_seconds: int

    def create(self) -> tuple[str, datetime]:
        session_id = secrets.token_urlsafe(32)
        expires = utcnow() + timedelta(seconds=self.ttl_seconds)
        with self.store.write(bump=False) as session:
            session.execute(delete(SessionRow).where(SessionRow.expires_at < utcnow()))
            session.add(SessionRow(id_hash=token_hash(session_id), expires_at=expires))
        return session_id, expires

    def lookup(self, session_id: str) -> datetime | None:
        with self.store.read() as session:
            row = session.get(SessionRow, token_hash(session_id))
            if row is None or row.expires_at <= utcnow():
                return None
            return row.expires_at

    def end(self, session_id: str) -> None:
        with self.store.write(bump=False) as session:
            session.execute(delete(SessionRow).where(SessionRow.id_hash == token_hash(session_id)))
