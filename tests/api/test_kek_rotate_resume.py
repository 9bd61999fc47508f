"""``kek rotate`` killed with SIGKILL in the middle of re-wrapping, then run again: exactly
one new KEK version, every row on it; a further run is a no-op that says so (docs/
security.md test 7), on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select

from keyhouse.cli import kek as kek_cli
from keyhouse.services import bootstrap
from keyhouse.settings import Settings
from keyhouse.store import credentials
from keyhouse.store.models import ApiKeyRow, KekVersionRow, utcnow
from keyhouse.store.store import Store
from tests.conftest import ADMIN_TOKEN
from tests.replicas import keyhouse, keyhouse_env

ROWS = 400
PAUSE = 11


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


def _wait_for_line(proc: subprocess.Popen[str], wanted: str, within: float = 120) -> None:
    """Until ``proc`` prints a stdout line containing ``wanted``; fails if it ends, or
    stays silent for ``within`` seconds, first. (A reader thread: select() on a buffered
    pipe would miss lines already read into the buffer.)"""
    assert proc.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in proc.stdout or ():
            lines.put(line)
        lines.put(None)  # it closed its stdout: ended

    threading.Thread(target=read, daemon=True).start()
    deadline = time.monotonic() + within
    seen: list[str] = []
    while True:
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"the rotation was silent before {wanted!r}: {seen}") from None
        assert line is not None, f"the rotation ended before {wanted!r}: {seen}"
        if wanted in line:
            return
        seen.append(line)


def test_a_killed_rotation_resumes_to_one_new_version(tmp_path: Path, database_url: str) -> None:
    home = tmp_path / "home"
    settings = Settings(
        home=home, database_url=database_url, kek_file=tmp_path / "kek.key", admin_token=ADMIN_TOKEN
    )
    _seed(settings)
    # The rotation pauses at its PAUSE-th row, that row's one-row batch still open (and
    # PAUSE - 1 committed): the kill lands mid-run for certain, with a transaction open.
    env = keyhouse_env(
        home,
        database_url,
        KEYHOUSE_KEK_FILE=str(tmp_path / "kek.key"),
        **{kek_cli.PAUSE_ENV: str(PAUSE)},
    )
    store = Store(database_url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "keyhouse", "kek", "rotate", "--new", "--batch", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        _wait_for_line(proc, f"paused after re-wrapping {PAUSE} rows")
        assert proc.poll() is None
        assert _on(store, 2) == PAUSE - 1
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        assert proc.stdout is not None
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    # Killed mid-run: rows on both versions, the open batch rolled back.
    assert _versions(store) == [(1, "active"), (2, "primary")]
    assert _on(store, 2) == PAUSE - 1 and _on(store, 1) == ROWS - PAUSE + 1

    # Without the pause now.
    env.pop(kek_cli.PAUSE_ENV)
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
