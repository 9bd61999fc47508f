"""Fixtures shared by the whole suite.

A canary credential runs through many tests; every log record of the session is kept and
``tests/zz_final`` asserts the canary never reached one (SECURITY.md test 10).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator

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


def _postgres_schema_url() -> Iterator[str]:
    import sqlalchemy as sa

    schema = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:  # pragma: no cover - CI always has it
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is not reachable: {type(exc).__name__}")
    sep = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


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
