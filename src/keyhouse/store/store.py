"""The store: a unit of work over SQLAlchemy, the config-version counter, KEK records.

Every admin write happens in one transaction that also bumps ``config_state.version``;
each replica polls that counter (never on the request path) to know when to reload.
Foreign exceptions (SQLAlchemy's) are translated here and nowhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from keyhouse.errors import AlreadyExists, KeyhouseError, PreconditionFailed, Unavailable
from keyhouse.store.db import WRITE_OPTION, DisposablePool, make_engine, make_sessionmaker
from keyhouse.store.models import (
    ApiKeyRow,
    ApiKeyVersionRow,
    AuditEventRow,
    ConfigStateRow,
    KekVersionRow,
)
from keyhouse.vault.keyring import KekRecord

log = logging.getLogger("keyhouse.store")


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._pool = DisposablePool(self.engine)
        self._sessions = make_sessionmaker(self.engine)
        # Writes take the database's write lock when they begin (SQLite: BEGIN IMMEDIATE),
        # so a read-check-write inside one cannot interleave with another writer's.
        self._write_sessions = make_sessionmaker(
            self.engine.execution_options(**{WRITE_OPTION: True})
        )
        self._on_commit: list[Callable[[], None]] = []

    def on_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` after every committed write that changes the configuration: the
        live gateway config reloads there, so the replica that took an admin write
        serves it from its very next request (others follow by poll)."""
        self._on_commit.append(hook)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        """Close the pooled connections, and each one still checked out as it comes
        back; the engine reconnects if the store is used again."""
        self._pool.dispose()

    @contextmanager
    def read(self) -> Iterator[Session]:
        try:
            with self._sessions() as session:
                yield session
        except KeyhouseError:
            raise
        except OperationalError:
            raise Unavailable("The database is unavailable; try again shortly.") from None
        except SQLAlchemyError:
            raise KeyhouseError("The database could not complete the operation.") from None

    @contextmanager
    def write(self, bump: bool = True) -> Iterator[Session]:
        """A transaction that bumps the config version when it commits (unless told the
        change is invisible to the gateway, as a web session is)."""
        try:
            with self._write_sessions.begin() as session:
                yield session
                if bump:
                    session.execute(
                        update(ConfigStateRow)
                        .where(ConfigStateRow.id == 1)
                        .values(version=ConfigStateRow.version + 1)
                    )
        except KeyhouseError:
            raise
        except StaleDataError:
            # The compare-and-set on the version column found another writer first.
            raise PreconditionFailed(
                "Someone else changed this just now; reload and retry."
            ) from None
        except IntegrityError:
            # Unique names are checked first; this catches the race between two writers.
            raise AlreadyExists("That name is taken.") from None
        except OperationalError:
            raise Unavailable("The database is unavailable; admin writes are paused.") from None
        except SQLAlchemyError:
            raise KeyhouseError("The database could not complete the operation.") from None
        if bump:
            self._committed()

    def _committed(self) -> None:
        for hook in self._on_commit:
            try:
                hook()
            except KeyhouseError as exc:
                # The write is committed; the version poll will catch this replica up.
                log.warning("reload after a write failed (%s); the poll will retry", exc.code)

    def ping(self) -> None:
        with self.read() as session:
            session.execute(text("SELECT 1"))

    def config_version(self) -> int:
        with self.read() as session:
            return int(
                session.scalar(select(ConfigStateRow.version).where(ConfigStateRow.id == 1)) or 0
            )

    # --- KekStore -------------------------------------------------------------------

    def kek_records(self) -> list[KekRecord]:
        with self.read() as session:
            rows = session.scalars(select(KekVersionRow).order_by(KekVersionRow.version))
            return [KekRecord(r.version, r.kcv, r.source, r.salt, r.state) for r in rows]

    def add_kek_records(self, records: list[KekRecord]) -> None:
        """Record new KEK versions, all or none (a failed start writes none)."""
        if not records:
            return
        with self.write() as session:
            for record in records:
                session.add(
                    KekVersionRow(
                        version=record.version,
                        kcv=record.kcv,
                        source=record.source,
                        salt=record.salt,
                        state=record.state,
                    )
                )

    def kek_versions_in_use(self) -> dict[int, int]:
        """Rows per KEK version, over the keys and their kept credential versions."""
        out: dict[int, int] = {}
        with self.read() as session:
            for table in (ApiKeyRow, ApiKeyVersionRow):
                rows = session.execute(
                    select(table.kek_version, func.count()).group_by(table.kek_version)
                )
                for version, count in rows:
                    out[int(version)] = out.get(int(version), 0) + int(count)
        return out


def audit(
    session: Session,
    actor: str,
    action: str,
    target_type: str,
    target_id: str | None,
    target_name: str | None,
    **details: Any,
) -> None:
    """Record who did what to which object. Only names of fields, never their values."""
    session.add(
        AuditEventRow(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            target_name=target_name,
            details=details,
        )
    )
