"""``keyhouse db backup FILE``: a consistent copy of a running SQLite store, taken while
the server writes, that a server started on it (with the same KEK) serves from."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import httpx

from keyhouse.services import bootstrap
from keyhouse.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.replicas import keyhouse, keyhouse_env, replica

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _decrypt_all(home: Path, db: Path) -> int:
    """Every key in ``db`` opens with the home's KEK: no row is torn or half-written."""
    settings = Settings(
        home=home,
        database_url=f"sqlite:///{db}",
        admin_token=ADMIN_TOKEN,
        kek_file=home / "kek.key",
    )
    services = bootstrap(settings, migrate=False)
    try:
        keys = services.keys.list()
        for key in keys:
            secret = services.registry.credential(key.id).secrets["api_key"]
            assert secret.startswith("sk-backup-"), key.name
        return len(keys)
    finally:
        services.store.dispose()


def test_backups_taken_while_the_server_writes_are_consistent(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = keyhouse_env(home)
    stop = threading.Event()
    written: list[int] = []
    with replica(env) as url:

        def writer() -> None:
            with httpx.Client(base_url=url, headers=ADMIN, timeout=30) as c:
                i = 0
                while not stop.is_set():
                    r = c.post(
                        "/api/v1/keys",
                        json={
                            "name": f"k{i}",
                            "provider": "openai",
                            "credentials": {"api_key": f"sk-backup-{i:04d}-" + "x" * 24},
                        },
                    )
                    assert r.status_code == 201, r.text
                    # Rotate an earlier key too: updates must be all-in or all-out.
                    if i:
                        first = c.get("/api/v1/keys").json()["keys"][0]["id"]
                        secret = f"sk-backup-r{i}-" + "y" * 24
                        r = c.patch(
                            f"/api/v1/keys/{first}", json={"credentials": {"api_key": secret}}
                        )
                        assert r.status_code == 200, r.text
                    i += 1
                    written.append(i)

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            counts = []
            for n in range(4):
                target = tmp_path / f"backup-{n}.db"
                result = keyhouse("db", "backup", str(target), env=env)
                assert "backed up" in result.stdout and "KEK" in result.stdout
                assert target.stat().st_mode & 0o777 == 0o600
                assert not Path(f"{target}-wal").exists()
                with sqlite3.connect(target) as conn:
                    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
                counts.append(_decrypt_all(home, target))
        finally:
            stop.set()
            thread.join()
        assert counts == sorted(counts) and counts[-1] > 0, counts
        final = tmp_path / "final.db"
        keyhouse("db", "backup", str(final), env=env)
        taken = _decrypt_all(home, final)
        assert taken == written[-1]
        refused = keyhouse("db", "backup", str(final), env=env, check=False)
        assert refused.returncode == 2 and "--force" in refused.stderr

    # Restore: a new home with the backup as its database and the same KEK file.
    restored = tmp_path / "restored"
    restored.mkdir()
    shutil.copy(final, restored / "keyhouse.db")
    shutil.copy(home / "kek.key", restored / "kek.key")
    with replica(keyhouse_env(restored)) as url:
        keys = httpx.get(f"{url}/api/v1/keys", headers=ADMIN).json()["keys"]
        assert len(keys) == taken


def test_backup_explains_a_wrong_home_and_postgres(tmp_path: Path) -> None:
    missing = keyhouse(
        "db", "backup", str(tmp_path / "b.db"), env=keyhouse_env(tmp_path / "nowhere"), check=False
    )
    assert missing.returncode == 2
    assert "no Keyhouse database" in missing.stderr and "KEYHOUSE_HOME" in missing.stderr
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / "b.db").exists()
    pg = keyhouse(
        "db",
        "backup",
        str(tmp_path / "b.db"),
        check=False,
        env=keyhouse_env(tmp_path, "postgresql+psycopg://127.0.0.1:1/x"),
    )
    assert pg.returncode == 2 and "pg_dump" in pg.stderr
