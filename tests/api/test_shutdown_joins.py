"""Shutdown leaves no worker thread using the store: the live-config poll and the usage
writer are joined, not cancelled (a cancelled await returns while its worker thread goes
on, holding a connection and its locks, which is what made the test teardown's DROP
SCHEMA deadlock); the app closes its pooled connections. And the PostgreSQL teardown
itself catches a connection a test leaves open instead of hanging on it."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import anyio
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import QueuePool
from starlette.testclient import TestClient

from keyhouse.app import create_app
from keyhouse.errors import Unavailable
from keyhouse.services import Services
from keyhouse.settings import Settings
from keyhouse.usage.record import UsageRecord
from keyhouse.usage.writer import UsageWriter
from tests.conftest import BACKEND_EXIT_GRACE, POSTGRES_URL, _postgres_schema_url


class SlowRefresh:
    """Wraps the registry's refresh: each call takes ``seconds`` in its worker thread."""

    def __init__(self, inner: Any, seconds: float) -> None:
        self.inner, self.seconds = inner, seconds
        self.started = threading.Event()
        self.running = 0

    def __call__(self) -> bool:
        self.running += 1
        self.started.set()
        try:
            time.sleep(self.seconds)
            return bool(self.inner())
        finally:
            self.running -= 1


def test_shutdown_waits_for_a_refresh_in_flight(settings: Settings, services: Services) -> None:
    slow = SlowRefresh(services.registry.refresh_if_changed, 1.0)
    services.registry.refresh_if_changed = slow  # type: ignore[method-assign]
    with TestClient(create_app(settings, services)):
        assert slow.started.wait(30)
    # The lifespan has ended: no refresh is still running in a thread.
    assert slow.running == 0


def test_shutdown_closes_the_apps_pooled_connections(
    settings: Settings, services: Services
) -> None:
    with TestClient(create_app(settings, services)) as client:
        assert client.get("/readyz").status_code == 200
        pool = services.store.engine.pool
        assert isinstance(pool, QueuePool)
        # In the pool, or out with the config poll at this very moment.
        assert pool.checkedin() + pool.checkedout() >= 1
    assert pool.checkedin() == 0 and pool.checkedout() == 0


def _closed(dbapi_connection: Any) -> bool:
    if isinstance(dbapi_connection, sqlite3.Connection):
        try:
            dbapi_connection.cursor()
        except sqlite3.ProgrammingError:
            return True
        return False
    return bool(dbapi_connection.closed)  # psycopg


def test_a_connection_out_when_the_store_is_disposed_is_closed_when_it_comes_back(
    settings: Settings, services: Services
) -> None:
    """Two apps on one store (the tests' TestClient beside a served app): the first to
    shut down disposes the pool while the other's poll holds a connection. That
    connection went back to the retired pool and stayed open there, a leftover the
    PostgreSQL teardown reported; now it is closed on return, through either API."""
    store = services.store
    held = store.engine.connect()
    with store.read() as session:
        session.execute(sa.text("SELECT 1"))
        raws = [held.connection.dbapi_connection, session.connection().connection.dbapi_connection]
        store.dispose()
    held.close()
    assert all(raw is not None and _closed(raw) for raw in raws)
    # The store still works, and a connection of the new pool is kept for reuse.
    assert store.config_version() >= 0
    with store.engine.connect() as again:
        raw = again.connection.dbapi_connection
    assert raw is not None and not _closed(raw)
    store.dispose()
    assert _closed(raw)


def record(i: int) -> UsageRecord:
    return UsageRecord(
        operation="chat",
        endpoint_id="e1",
        endpoint_name="chat",
        token_id=None,
        token_name=None,
        is_admin=True,
        stream=False,
        latency_ms=float(i),
    )


@pytest.mark.anyio
async def test_a_writer_giving_up_at_close_waits_for_its_batch_in_flight() -> None:
    calls: list[tuple[float, float]] = []

    def down(batch: Sequence[UsageRecord]) -> int:
        started = time.monotonic()
        time.sleep(0.5)  # a store that takes its time to fail
        calls.append((started, time.monotonic()))
        raise Unavailable("down")

    writer = UsageWriter(down, interval=0.01, max_backoff=0.05)
    writer.start()
    for i in range(10):
        writer.submit(record(i))
    await anyio.sleep(0.1)  # the first attempt is in flight
    await writer.close(grace=0.2)
    closed = time.monotonic()
    assert calls, "no attempt was made"
    assert all(end <= closed for _, end in calls)  # none still running
    await anyio.sleep(0.7)
    assert all(start < closed for start, _ in calls)  # and none started after
    assert writer.pending == 10


@pytest.mark.postgres
def test_the_teardown_ends_a_leaked_connection_and_fails_the_test() -> None:
    schema_url = _postgres_schema_url()
    url = next(schema_url)
    schema = url.rsplit("application_name=", 1)[1]
    leaky = sa.create_engine(url)
    conn = leaky.connect()
    conn.execute(sa.text("CREATE TABLE t (x int)"))
    conn.commit()
    # Idle in a transaction holding a lock on the schema's table: a plain DROP SCHEMA
    # would wait on it for good.
    conn.execute(sa.text("LOCK TABLE t IN ACCESS SHARE MODE"))
    started = time.monotonic()
    with pytest.raises(pytest.fail.Exception, match=r"1 connection\(s\).*idle in transaction"):
        next(schema_url)
    assert time.monotonic() - started < BACKEND_EXIT_GRACE + 10  # ended, not waited on
    admin = sa.create_engine(POSTGRES_URL, poolclass=sa.pool.NullPool)
    with admin.connect() as check:
        gone = check.execute(
            sa.text("SELECT count(*) FROM information_schema.schemata WHERE schema_name = :s"),
            {"s": schema},
        ).scalar()
    assert gone == 0
    with pytest.raises(sa.exc.OperationalError):
        conn.execute(sa.text("SELECT 1"))  # its backend was terminated
    leaky.dispose()
    admin.dispose()


@pytest.mark.postgres
def test_the_teardown_of_a_clean_test_passes() -> None:
    schema_url = _postgres_schema_url()
    url = next(schema_url)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE TABLE t_{uuid.uuid4().hex[:6]} (x int)"))
    engine.dispose()
    with pytest.raises(StopIteration):
        next(schema_url)
