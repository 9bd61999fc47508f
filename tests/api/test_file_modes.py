"""Files that hold the keys: the KEK file must be private, as ssh insists for a private
key; the SQLite database and its folder are created private; a start that fails leaves
no half-written ``kek_versions`` row."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import select

from keyhouse.admin.schemas import KeyCreate
from keyhouse.errors import KekConfigError
from keyhouse.services import bootstrap
from keyhouse.settings import Settings
from keyhouse.store.models import KekVersionRow
from tests.api.conftest import openai_key
from tests.conftest import ADMIN_TOKEN
from tests.replicas import keyhouse, keyhouse_env


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606, 0o700 | 0o044])
def test_a_kek_file_others_can_read_stops_start_up(tmp_path: Path, mode: int) -> None:
    kek = tmp_path / "kek.key"
    settings = Settings(home=tmp_path / "home", kek_file=kek, admin_token=ADMIN_TOKEN)
    bootstrap(settings).store.dispose()  # creates it 0600
    kek.chmod(mode)
    with pytest.raises(KekConfigError) as caught:
        bootstrap(settings)
    assert str(kek) in caught.value.message and f"chmod 600 {kek}" in caught.value.message
    kek.chmod(0o600)
    bootstrap(settings).store.dispose()
    kek.chmod(0o400)  # read-only for its owner is private too
    bootstrap(settings).store.dispose()


def test_serve_refuses_a_world_readable_kek_file_before_binding(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = keyhouse_env(home)
    bootstrap(Settings(home=home, admin_token=ADMIN_TOKEN)).store.dispose()
    (home / "kek.key").chmod(0o644)
    result = keyhouse("serve", "--port", "1", env=env, check=False)
    assert result.returncode != 0
    assert "chmod 600" in result.stderr and str(home / "kek.key") in result.stderr


def test_the_sqlite_database_and_its_folder_are_created_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    old = os.umask(0o022)
    try:
        services = bootstrap(Settings(home=home, admin_token=ADMIN_TOKEN))
        with services.store.write() as session:  # the WAL files exist once written to
            session.execute(select(KekVersionRow))
    finally:
        os.umask(old)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for name in ("keyhouse.db", "keyhouse.db-wal", "keyhouse.db-shm"):
        path = home / name
        if path.exists() or name == "keyhouse.db":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    services.store.dispose()
    elsewhere = tmp_path / "data" / "nested" / "kh.db"
    bootstrap(
        Settings(home=home, database_url=f"sqlite:///{elsewhere}", admin_token=ADMIN_TOKEN)
    ).store.dispose()
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o600
    assert stat.S_IMODE(elsewhere.parent.stat().st_mode) == 0o700


def _versions(settings: Settings) -> list[int]:
    from keyhouse.store.store import Store

    store = Store(settings.resolved_database_url)
    with store.read() as session:
        out = list(session.scalars(select(KekVersionRow.version)))
    store.dispose()
    return out


def test_a_failed_start_leaves_no_half_written_kek_version(
    tmp_path: Path, database_url: str
) -> None:
    kek = tmp_path / "kek.key"
    settings = Settings(
        home=tmp_path / "home", database_url=database_url, kek_file=kek, admin_token=ADMIN_TOKEN
    )
    services = bootstrap(settings, migrate=True)
    services.keys.create(KeyCreate(**openai_key()), "test")
    services.store.dispose()
    # The operator replaces the file with a new key (version 2), losing version 1.
    kek.write_text(f"2:{base64.b64encode(os.urandom(32)).decode()}\n")
    kek.chmod(0o600)
    with pytest.raises(KekConfigError, match=r"\[1\]"):
        bootstrap(settings, migrate=True)
    assert _versions(settings) == [1]
    # A first start whose second key line is wrong records neither line.
    fresh = tmp_path / "fresh.key"
    key = base64.b64encode(os.urandom(32)).decode()
    fresh.write_text(f"1:{key}\n1:{base64.b64encode(os.urandom(32)).decode()}\n")
    fresh.chmod(0o600)
    other = Settings(home=tmp_path / "home2", kek_file=fresh, admin_token=ADMIN_TOKEN)
    with pytest.raises(KekConfigError):
        bootstrap(other)
    assert _versions(other) == []
