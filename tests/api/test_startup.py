"""Start-up: the KEK is checked before anything is served (SECURITY.md test 6)."""

from __future__ import annotations

import base64
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from keyhouse.errors import KekConfigError
from keyhouse.services import bootstrap
from keyhouse.settings import Settings
from tests.api.conftest import openai_key
from tests.conftest import ADMIN_TOKEN


def _write_kek(path: Path, version: int | None = None) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    path.write_text(f"{version}:{key}\n" if version else key + "\n")
    path.chmod(0o600)


def test_first_start_creates_a_private_kek_file(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", admin_token=ADMIN_TOKEN)
    services = bootstrap(settings)
    kek_file = tmp_path / "home" / "kek.key"
    assert services.generated_kek_file == str(kek_file)
    assert stat.S_IMODE(kek_file.stat().st_mode) == 0o600
    again = bootstrap(settings)
    assert again.generated_kek_file is None
    assert again.keyring.versions == [1]


def test_wrong_kek_file_is_refused_naming_version_and_setting(
    tmp_path: Path, database_url: str
) -> None:
    kek = tmp_path / "kek.key"
    settings = Settings(
        home=tmp_path, database_url=database_url, kek_file=kek, admin_token=ADMIN_TOKEN
    )
    bootstrap(settings, migrate=True).store.dispose()
    _write_kek(kek)  # a different key in the same file
    with pytest.raises(KekConfigError) as info:
        bootstrap(settings, migrate=True)
    message = info.value.message
    assert "wrong key" in message and "[1]" in message
    assert kek.read_text().strip() not in message


def test_missing_kek_file_with_existing_data_is_refused(tmp_path: Path) -> None:
    kek = tmp_path / "kek.key"
    settings = Settings(home=tmp_path, kek_file=kek, admin_token=ADMIN_TOKEN)
    bootstrap(settings).store.dispose()
    kek.unlink()
    with pytest.raises(KekConfigError, match="does not exist"):
        bootstrap(settings)
    assert not kek.exists()  # never silently replaced by a new key


def test_unknown_kek_version_in_use_is_refused(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from keyhouse.app import create_app

    kek = tmp_path / "kek.key"
    settings = Settings(home=tmp_path, kek_file=kek, admin_token=ADMIN_TOKEN)
    services = bootstrap(settings)
    with TestClient(
        create_app(settings, services), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as client:
        assert client.post("/api/v1/keys", json=openai_key()).status_code == 201
    services.store.dispose()
    from sqlalchemy import update

    from keyhouse.store.models import ApiKeyRow

    with services.store.write() as session:
        session.execute(update(ApiKeyRow).values(kek_version=9))
    with pytest.raises(KekConfigError, match=r"version\(s\) \[9\]"):
        bootstrap(settings)


def test_passphrase_kek_opens_again_and_wrong_passphrase_is_refused(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path, kek_passphrase=SecretStr("correct horse battery"), admin_token=ADMIN_TOKEN
    )
    first = bootstrap(settings)
    assert first.keyring.versions == [1]
    assert not (tmp_path / "kek.key").exists()
    assert bootstrap(settings).keyring.versions == [1]
    wrong = settings.model_copy(update={"kek_passphrase": SecretStr("wrong horse battery")})
    with pytest.raises(KekConfigError, match="wrong passphrase"):
        bootstrap(wrong)


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_serve_exits_non_zero_before_binding_with_a_wrong_kek(tmp_path: Path) -> None:
    kek = tmp_path / "kek.key"
    env = {
        **os.environ,
        "KEYHOUSE_HOME": str(tmp_path),
        "KEYHOUSE_KEK_FILE": str(kek),
        "KEYHOUSE_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    subprocess.run(
        [sys.executable, "-m", "keyhouse", "db", "upgrade"],
        env=env,
        check=True,
        capture_output=True,
    )
    bootstrap(Settings(home=tmp_path, kek_file=kek, admin_token=ADMIN_TOKEN)).store.dispose()
    _write_kek(kek)
    from keyhouse.testing.fakes.server import free_port

    port = free_port()
    proc = subprocess.run(
        [sys.executable, "-m", "keyhouse", "serve", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "wrong key" in proc.stderr and "KEYHOUSE_KEK_FILE" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _port_is_free(port)

    kek.unlink()
    proc = subprocess.run(
        [sys.executable, "-m", "keyhouse", "serve", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0 and "does not exist" in proc.stderr


def test_passphrase_rotation_with_both_passphrases_listed(tmp_path: Path) -> None:
    from keyhouse.store.credentials import rewrap_all
    from keyhouse.store.kek_versions import add_passphrase, promote, retire
    from keyhouse.vault.kek import PassphraseSource

    old, new = "correct horse battery", "a brand new passphrase"
    settings = Settings(home=tmp_path, kek_passphrase=SecretStr(old), admin_token=ADMIN_TOKEN)
    services = bootstrap(settings)
    from starlette.testclient import TestClient

    from keyhouse.app import create_app

    with TestClient(
        create_app(settings, services), headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    ) as client:
        key_id = client.post("/api/v1/keys", json=openai_key()).json()["id"]
    version = add_passphrase(PassphraseSource(new), services.store, services.keyring)
    promote(services.store, services.keyring, version)
    assert rewrap_all(services.store, services.keyring).rewrapped == 1
    # A server restarted with both passphrases opens both versions...
    both = settings.model_copy(update={"kek_passphrase": SecretStr(f"{new}\n{old}")})
    reopened = bootstrap(both)
    assert reopened.keyring.versions == [1, 2] and reopened.keyring.primary_version == 2
    assert reopened.registry.credential(key_id).secrets["api_key"].startswith("sk-canary")
    retire(reopened.store, 1)
    # ...and after retiring version 1 the new passphrase alone is enough.
    only_new = settings.model_copy(update={"kek_passphrase": SecretStr(new)})
    assert bootstrap(only_new).keyring.versions == [2]
    with pytest.raises(KekConfigError):
        bootstrap(settings)  # the old passphrase alone opens no row any more
