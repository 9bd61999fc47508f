"""Fixtures shared by the whole suite.

A canary credential runs through many tests; every log record of the session is kept and
``tests/zz_final`` asserts the canary never reached one (SECURITY.md test 10).
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

ADMIN_TOKEN = "kh_admin_test_" + "A" * 43
CANARY = "sk-canary-" + "7Q" * 20  # a secret that must never come back out
# How many requests carried the canary into the app (so the final check is not vacuous).
CANARY_USES = [0]
POSTGRES_URL = os.environ.get(
    "KEYHOUSE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


class _KeepAll(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a broken record must not break the suite
            self.lines.append(str(record.msg))


LOG_SINK = _KeepAll()
LOG_SINK.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))


@pytest.fixture(scope="session", autouse=True)
def _keep_every_log_line() -> Iterator[None]:
    root = logging.getLogger()
    root.addHandler(LOG_SINK)
    old = root.level
    root.setLevel(logging.DEBUG)
    yield
    root.removeHandler(LOG_SINK)
    root.setLevel(old)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# How long the teardown's DROP SCHEMA may wait for a lock before it fails (instead of
# hanging, or deadlocking with a connection the test left behind).
DROP_LOCK_TIMEOUT = "10s"
# How long a backend whose client closed the connection may take to exit (seconds).
BACKEND_EXIT_GRACE = 5.0


def _postgres_schema_url() -> Iterator[str]:
    """A schema of its own for one test. Every connection made through the URL carries
    the schema's name as its ``application_name``, so the teardown can see what is still
    connected: a connection left open (an engine not disposed, a worker thread still
    running after its app shut down) fails the test, loudly, after being terminated so
    that the DROP itself neither hangs nor deadlocks on its locks."""
    import sqlalchemy as sa

    schema = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(POSTGRES_URL, poolclass=sa.pool.NullPool)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:  # pragma: no cover - CI always has it
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is not reachable: {type(exc).__name__}")
    sep = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}&application_name={schema}"
    leftovers = _end_backends(admin, schema)
    with admin.begin() as conn:
        conn.execute(sa.text(f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'"))
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    if leftovers:
        pytest.fail(
            f"{len(leftovers)} connection(s) to the test's schema were still open after it "
            "(an engine not disposed, or a thread still using it after its app shut "
            f"down): {leftovers}",
            pytrace=False,
        )


def _end_backends(admin: Any, schema: str) -> list[str]:
    """Wait for the backends still connected for ``schema`` to go, then terminate (and
    describe) those that stay. The wait is for connections the test did close: a backend
    exits a moment after its client hung up, and on a loaded machine that moment shows.
    Described by state and the start of the last statement, never a bound value
    (parameters are not in it)."""
    import sqlalchemy as sa

    listed = sa.text(
        "SELECT pid, state, left(query, 60) AS query FROM pg_stat_activity "
        "WHERE application_name = :schema AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + BACKEND_EXIT_GRACE
    while True:
        with admin.begin() as conn:
            rows = conn.execute(listed, {"schema": schema}).all()
            if not rows:
                return []
            if time.monotonic() > deadline:
                for row in rows:
                    conn.execute(
                        sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": row.pid}
                    )
                return [f"{r.state}: {r.query!r}" for r in rows]
        time.sleep(0.05)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: os.PathLike[str]) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/keyhouse.db"
    else:
        yield from _postgres_schema_url()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run after every other test (and before the final canary check):
    Playwright's sync API keeps an event loop running in this thread while its browser is
    open, which would break the asyncio tests that follow it."""

    def rank(item: pytest.Item) -> int:
        path = item.nodeid
        if path.startswith("tests/zz_final/"):
            return 2
        return 1 if path.startswith("tests/e2e/") else 0

    items.sort(key=rank)  # stable: the order within each group is kept
