"""Engine, sessions and migrations."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, make_url, text
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# Execution option marking a connection that will write (see ``_sqlite_begin``).
WRITE_OPTION = "keyhouse_write"


def make_engine(url: str) -> Engine:
    # hide_parameters: an exception or log line must never carry a bound value.
    kwargs: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **kwargs)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


class DisposablePool:
    """``engine.dispose()`` that leaves no connection open behind it.

    SQLAlchemy's dispose closes the connections in the pool and swaps in a new one; a
    connection checked out at that moment (another app on the same store mid-refresh, a
    worker thread finishing) goes back to the retired pool on return and stays open
    there until a cyclic garbage collection finds the pool. Each checkout is stamped with
    the pool's generation, and a connection returned from an older one is closed."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.generation = 0
        event.listen(engine, "checkout", self._stamp)
        event.listen(engine, "checkin", self._close_if_retired)

    def dispose(self) -> None:
        self.engine.dispose()
        # After the swap: a connection the new pool hands out in between is merely
        # closed on return, never left open.
        self.generation += 1

    def _stamp(self, _dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        record.info[_GENERATION] = self.generation

    def _close_if_retired(self, _dbapi_connection: Any, record: Any) -> None:
        if record.info.get(_GENERATION, self.generation) != self.generation:
            record.close()


_GENERATION = "keyhouse.pool_generation"


def create_private_sqlite_file(url: str) -> None:
    """Create a new SQLite database file 0600 in a folder 0700 before SQLite does (it
    would follow the umask, typically 0644). SQLite gives its -wal and -shm files the
    database file's mode."""
    path = make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    db_file = Path(path)
    if db_file.exists():
        return
    db_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(os.open(db_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Foreign keys carry ON DELETE SET NULL for force-deleted keys; WAL lets the poller
    # read while an admin write is in flight.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
    # SQLAlchemy emits BEGIN itself (``_sqlite_begin``); pysqlite's implicit one would be
    # DEFERRED, under which SELECT ... FOR UPDATE locks nothing.
    dbapi_connection.isolation_level = None


def _sqlite_begin(conn: Connection) -> None:
    # A writer takes the write lock up front: two writers then run one after the other
    # and the second reads what the first committed, so its If-Match check is against
    # the truth. Readers stay DEFERRED and, thanks to WAL, never wait.
    writes = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


# Alembic (with Mako, Pygments and every SQL dialect it supports) was about a third of
# `serve`'s import time, so it is imported only when a migration really runs; the common
# start, on a schema that is already current, reads the revision with one query.


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), revision)


def upgrade_if_needed(engine: Engine) -> None:
    if not is_up_to_date(engine):
        upgrade(engine)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def head_revision() -> str:
    """The newest migration's id, read from the file names: every revision id is its
    file's four-digit prefix and the chain is linear (tests/api/test_migrations.py holds
    both against alembic's own reading of the scripts)."""
    versions = (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")
    return max(path.name[:4] for path in versions)


def head_revisions(engine: Engine) -> tuple[str, ...]:
    """Alembic's own reading of the scripts (the CLI and the tests)."""
    from alembic.script import ScriptDirectory

    return tuple(ScriptDirectory.from_config(alembic_config(engine)).get_heads())


def is_up_to_date(engine: Engine) -> bool:
    return current_revision(engine) == head_revision()
