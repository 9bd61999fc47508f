"""``keyhouse kek status`` (and every command that opens the store directly) says what is
wrong with a wrong or missing home, and creates nothing while looking."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from keyhouse.services import bootstrap
from keyhouse.settings import Settings
from tests.replicas import keyhouse, keyhouse_env


def _status(home: Path, **extra: str) -> tuple[int, str]:
    result = keyhouse("kek", "status", env=keyhouse_env(home, **extra), check=False)
    assert "unavailable; try again" not in result.stderr
    return result.returncode, result.stderr


def test_a_missing_home_is_named(tmp_path: Path) -> None:
    code, err = _status(tmp_path / "nowhere")
    assert code == 2
    assert f"no Keyhouse database at {tmp_path / 'nowhere' / 'keyhouse.db'}" in err
    assert "does not exist" in err and "KEYHOUSE_HOME" in err
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("content", [None, b"", b"not a database at all" * 100])
def test_a_home_without_a_keyhouse_database_is_named(tmp_path: Path, content: bytes | None) -> None:
    if content is not None:
        (tmp_path / "keyhouse.db").write_bytes(content)
    code, err = _status(tmp_path)
    assert code == 2
    assert (
        "no Keyhouse database" in err
        or "not a Keyhouse database" in err
        or "cannot open the database" in err
    ), err
    assert "KEYHOUSE_HOME" in err
    assert not (tmp_path / "kek.key").exists(), "looking must not generate a KEK"


def test_another_sqlite_database_is_not_mistaken_for_keyhouse(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "keyhouse.db") as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    code, err = _status(tmp_path)
    assert code == 2 and "not a Keyhouse database" in err and "keyhouse db upgrade" in err


def test_a_missing_kek_file_is_named_not_created(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert keyhouse("db", "upgrade", env=keyhouse_env(home)).returncode == 0
    code, err = _status(home)
    assert code == 2 and f"no KEK file at {home / 'kek.key'}" in err
    assert not (home / "kek.key").exists()


def test_an_unreachable_database_url_is_shown_without_its_password(tmp_path: Path) -> None:
    code, err = _status(
        tmp_path, KEYHOUSE_DATABASE_URL="postgresql+psycopg://u:hunter2@127.0.0.1:1/x"
    )
    assert code == 2 and "cannot open the database" in err and "KEYHOUSE_DATABASE_URL" in err
    assert "hunter2" not in err


def test_a_healthy_home_still_shows_the_status(tmp_path: Path) -> None:
    home = tmp_path / "home"
    # What a first `keyhouse serve` leaves behind: the database and a generated KEK file.
    bootstrap(Settings(home=home, admin_token="x" * 20)).store.dispose()
    result = keyhouse("kek", "status", env=keyhouse_env(home))
    assert "primary" in result.stdout


def test_db_upgrade_in_process_leaves_no_connection_open(tmp_path: Path, database_url: str) -> None:
    """Run by a script or a test in its own process, ``keyhouse db upgrade`` closes what
    it opened (on PostgreSQL the fixture's teardown fails the test on any leftover)."""
    from click.testing import CliRunner

    from keyhouse.cli import main

    env = {"KEYHOUSE_HOME": str(tmp_path / "home"), "KEYHOUSE_DATABASE_URL": database_url}
    result = CliRunner().invoke(main, ["db", "upgrade"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "database at revision 0006" in result.output
