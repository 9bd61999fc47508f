"""``kek rotate`` killed with SIGKILL in the middle of re-wrapping, then run again: exactly
one new KEK version, every row on it; a further run is a no-op that says so (docs/
security.md test 7), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select, text

from keyhouse.services import bootstrap
from keyhouse.settings import Settings
from keyhouse.store import credentials
from keyhouse.store.db import WRITE_OPTION
from keyhouse.store.models import ApiKeyRow, KekVersionRow, utcnow
from keyhouse.store.store import Store
from tests.conftest import ADMIN_TOKEN
from tests.replicas import keyhouse, keyhouse_env

ROWS = 400


def _seed(settings: Settings) -> None:
    services = bootstrap(settings, migrate=True)
    now = utcnow()
    with services.store.write() as session:
        for i in range(ROWS):
            row = ApiKeyRow(
                id=str(uuid.uuid4()),
                name=f"key-{i}",
                description="",
                provider="openai",
                auth_method="api_key",
                config={},
                version=1,
                credential_version=1,
                created_at=now,
                updated_at=now,
                credential_updated_at=now,
            )
            credentials.seal_onto(services.keyring, row, {"api_key": f"sk-{i:04d}" + "x" * 30})
            session.add(row)
    services.store.dispose()


def _on(store: Store, version: int) -> int:
    with store.read() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(ApiKeyRow).where(ApiKeyRow.kek_version == version)
            )
            or 0
        )


def _versions(store: Store) -> list[tuple[int, str]]:
    with store.read() as session:
        return [
            (r.version, r.state)
            for r in session.scalars(select(KekVersionRow).order_by(KekVersionRow.version))
        ]


def test_a_killed_rotation_resumes_to_one_new_version(tmp_path: Path, database_url: str) -> None:
    home = tmp_path / "home"
    settings = Settings(
        home=home, database_url=database_url, kek_file=tmp_path / "kek.key", admin_token=ADMIN_TOKEN
    )
    _seed(settings)
    env = keyhouse_env(home, database_url, KEYHOUSE_KEK_FILE=str(tmp_path / "kek.key"))
    store = Store(database_url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "keyhouse", "kek", "rotate", "--new", "--batch", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # A writer's connection: on SQLite its BEGIN is BEGIN IMMEDIATE, the write lock.
    blocker = store.engine.execution_options(**{WRITE_OPTION: True}).connect()
    try:
        deadline = time.monotonic() + 60
        while _on(store, 2) < 10:
            assert proc.poll() is None, "the rotation ended before it could be interrupted"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        # Hold every writer still, so the kill lands with rows on both versions.
        blocker.begin()
        if store.dialect == "postgresql":
            blocker.execute(text("LOCK TABLE api_keys IN EXCLUSIVE MODE"))
        moved = _on(store, 2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        blocker.close()  # rolls back, releasing the lock
    assert proc.returncode == -signal.SIGKILL
    assert 10 <= moved < ROWS and _on(store, 1) == ROWS - moved

    # The same command again: it finishes the rotation under way, minting nothing.
    again = keyhouse("kek", "rotate", "--new", env=env)
    assert "interrupted rotation" in again.stdout, again.stdout
    assert _versions(store) == [(1, "active"), (2, "primary")]
    assert _on(store, 2) == ROWS and _on(store, 1) == 0

    for command in (["kek", "rotate"], ["kek", "rotate"]):
        noop = keyhouse(*command, env=env)
        assert "nothing to do" in noop.stdout, noop.stdout
    assert _versions(store) == [(1, "active"), (2, "primary")]
    assert _on(store, 2) == ROWS
    # Only asked for, a new version comes: and then exactly one.
    keyhouse("kek", "rotate", "--new", env=env)
    assert _versions(store) == [(1, "active"), (2, "active"), (3, "primary")]
    assert _on(store, 3) == ROWS
    store.dispose()
