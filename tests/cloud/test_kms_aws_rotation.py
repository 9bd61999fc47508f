"""A KEK in AWS KMS (moto in server mode, SigV4 and IAM enforced): start-up checks,
online rotation from the key file to KMS and back, and the hot path without KMS calls."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from keyhouse.app import create_app
from keyhouse.cli import main
from keyhouse.errors import DecryptionFailed, KekConfigError, KeyhouseError
from keyhouse.services import Services, bootstrap
from keyhouse.settings import Settings
from keyhouse.store.models import ApiKeyRow, ApiKeyVersionRow
from keyhouse.testing.fakes.aws import Aws
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import ServerThread, free_port, serve
from keyhouse.vault.envelope import Kek
from keyhouse.vault.kms.base import KmsKek
from tests.api.test_rotation import ADMIN, FAKE_KEY, Load, _setup
from tests.conftest import ADMIN_TOKEN


@pytest.fixture
def aws(aws_server: Aws) -> Aws:
    """One moto for the session (its state and IAM switch are per process)."""
    return aws_server


@pytest.fixture
def aws_env(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in aws.env().items():
        monkeypatch.setenv(name, value)
    return aws.env()


@pytest.fixture
def kms_settings(tmp_path: Path, database_url: str, aws: Aws, aws_env: dict[str, str]) -> Settings:
    """A server still on its key file, but able to open versions in the KMS key."""
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        kek_file=tmp_path / "kek.key",
        admin_token=ADMIN_TOKEN,
        allow_private_upstreams=True,
        aws_kms_key_id=aws.kms_key_arn,
        aws_kms_endpoint_url=aws.url,
    )


def _cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {
        "KEYHOUSE_HOME": str(settings.home),
        "KEYHOUSE_DATABASE_URL": settings.resolved_database_url,
        "KEYHOUSE_KEK_FILE": str(settings.resolved_kek_file),
        "KEYHOUSE_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    if settings.aws_kms_key_id:
        env |= {
            "KEYHOUSE_AWS_KMS_KEY_ID": settings.aws_kms_key_id,
            "KEYHOUSE_AWS_KMS_ENDPOINT_URL": settings.aws_kms_endpoint_url or "",
        }
    return env | extra


def _kek(env: dict[str, str], *args: str) -> Any:
    result = CliRunner().invoke(main, ["kek", *args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def _rows(services: Services) -> list[tuple[str, str, int, bytes, bytes]]:
    """(row id used in the AAD, table, kek version, wrapped DEK, ciphertext) of every row."""
    out = []
    with services.store.read() as s:
        for r in s.scalars(select(ApiKeyRow)):
            out.append((r.id, "api_keys", r.kek_version, r.wrapped_dek, r.ciphertext))
        for v in s.scalars(select(ApiKeyVersionRow)):
            out.append((v.key_id, "api_key_versions", v.kek_version, v.wrapped_dek, v.ciphertext))
    return out


def _file_keys(path: Path) -> list[bytes]:
    lines = [ln.split("#")[0].strip() for ln in path.read_text().splitlines()]
    return [base64.b64decode(ln.split(":", 1)[-1]) for ln in lines if ln]


@pytest.fixture
def fake() -> Iterator[ServerThread]:
    with serve(openai_fake(api_key=FAKE_KEY)) as server:
        yield server


def test_rotate_from_key_file_to_aws_kms_under_load(
    kms_settings: Settings, fake: ServerThread
) -> None:
    """The issue's "done when": every row moves from the key file to the KMS key with
    traffic flowing and no failed request; afterwards the old file opens nothing."""
    services = bootstrap(kms_settings, migrate=True)
    assert services.keyring.versions == [1]  # the KMS key is configured, not yet used
    with serve(create_app(kms_settings, services)) as server:
        keys, token = _setup(server.url, fake)
        with httpx.Client(base_url=server.url, headers=ADMIN) as c:  # a kept old version
            r = c.patch(f"/api/v1/keys/{keys[0]}", json={"credentials": {"api_key": FAKE_KEY}})
            assert r.status_code == 200, r.text
        before = {(row[0], row[1]): row[4] for row in _rows(services)}
        assert len(before) == 4
        env = _cli_env(kms_settings, KEYHOUSE_KEK_PROVIDER="aws_kms")
        with Load(server.url, token, ["chat-0a", "chat-1b", "chat-2a"]) as load:
            time.sleep(0.3)
            out = _kek(env, "rotate", "--batch", "1").output
            assert "added KEK version 2 in aws_kms" in out and "4 re-wrapped" in out
            time.sleep(0.6)  # the server follows the new primary by its poll
            _kek(env, "retire", "1")
            with httpx.Client(base_url=server.url, headers=ADMIN) as c:  # a write under KMS
                r = c.post(
                    "/api/v1/keys",
                    json={
                        "name": "after",
                        "provider": "openai_compatible",
                        "credentials": {"api_key": FAKE_KEY},
                        "config": {"base_url": fake.url},
                    },
                )
                assert r.status_code == 201, r.text
            time.sleep(0.4)
        assert load.failures == []
        assert load.ok > 20
        assert isinstance(services.keyring.primary, KmsKek)
    rows = _rows(services)
    assert {row[2] for row in rows} == {2} and len(rows) == 5
    for row_id, table, _, _, ciphertext in rows:
        if (row_id, table) in before:
            assert ciphertext == before[(row_id, table)]  # only the DEK wrapping moved
    # Nothing in the database opens with any key the old file holds, under any version.
    old_keys = _file_keys(kms_settings.resolved_kek_file)
    for key in old_keys:
        for version in (1, 2):
            for row_id, _, _, wrapped, _ in rows:
                with pytest.raises(DecryptionFailed):
                    Kek(version, key).unwrap(wrapped, row_id)
    # The file can go: a server with only the KMS key serves every key.
    kms_settings.resolved_kek_file.unlink()
    only_kms = kms_settings.model_copy(update={"kek_provider": "aws_kms"})
    again = bootstrap(only_kms)
    assert again.keyring.versions == [2]
    for key_id in keys:
        assert again.registry.credential(key_id).secrets["api_key"] == FAKE_KEY
    services.store.dispose()
    again.store.dispose()


def test_rotate_back_from_aws_kms_to_a_new_key_file(kms_settings: Settings) -> None:
    only_kms = kms_settings.model_copy(update={"kek_provider": "aws_kms"})
    services = bootstrap(only_kms, migrate=True)
    assert not kms_settings.resolved_kek_file.exists()  # no file made for a KMS start
    assert isinstance(services.keyring.primary, KmsKek)
    from starlette.testclient import TestClient

    with TestClient(create_app(only_kms, services), headers=ADMIN) as c:
        key_id = c.post(
            "/api/v1/keys",
            json={"name": "k", "provider": "openai", "credentials": {"api_key": FAKE_KEY}},
        ).json()["id"]
    env = _cli_env(kms_settings, KEYHOUSE_KEK_PROVIDER="file")
    out = _kek(env, "rotate").output
    assert "added KEK version 2 to" in out and "1 re-wrapped" in out
    assert oct(kms_settings.resolved_kek_file.stat().st_mode & 0o777) == "0o600"
    _kek(env, "retire", "1")
    status = _kek(env, "status").output
    assert "aws_kms" in status and "retired" in status
    # Back on the file alone: no KMS setting at all.
    file_only = kms_settings.model_copy(update={"aws_kms_key_id": None})
    again = bootstrap(file_only)
    assert again.keyring.versions == [2]
    assert again.registry.credential(key_id).secrets["api_key"] == FAKE_KEY
    services.store.dispose()
    again.store.dispose()


class _Counting:
    """Counts what reaches the real (moto-backed) provider."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.kind, self.key_ref, self.setting = (
            inner,
            inner.kind,
            inner.key_ref,
            inner.setting,
        )
        self.unwraps = 0

    def wrap(self, dek: bytes, aad: bytes) -> bytes:
        return bytes(self.inner.wrap(dek, aad))

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        self.unwraps += 1
        return bytes(self.inner.unwrap(wrapped, aad))


def test_the_live_config_opens_keys_at_load_so_requests_never_call_the_kms(
    kms_settings: Settings,
) -> None:
    from keyhouse.vault.kms.keyring import kms_providers, open_configured_keyring

    only_kms = kms_settings.model_copy(update={"kek_provider": "aws_kms"})
    services = bootstrap(only_kms, migrate=True)
    from starlette.testclient import TestClient

    with TestClient(create_app(only_kms, services), headers=ADMIN) as c:
        ids = [
            c.post(
                "/api/v1/keys",
                json={"name": f"k{i}", "provider": "openai", "credentials": {"api_key": FAKE_KEY}},
            ).json()["id"]
            for i in range(3)
        ]
    counting = _Counting(kms_providers(only_kms)["aws_kms"])
    keyring = open_configured_keyring(only_kms, services.store, {"aws_kms": counting}).keyring  # type: ignore[dict-item]
    assert counting.unwraps == 1  # the version's check value
    from keyhouse.gateway.live_config import LiveRegistry

    registry = LiveRegistry(services.store, keyring, [])
    registry.load()
    assert counting.unwraps == 4  # one per stored DEK, at load
    for _ in range(5):
        for key_id in ids:
            assert registry.credential(key_id).secrets["api_key"] == FAKE_KEY
    assert counting.unwraps == 4  # the request path never asked the KMS
    registry.load()
    assert counting.unwraps == 4  # nor does a reload of unchanged rows
    services.store.dispose()


def test_start_up_refuses_a_wrong_or_unreachable_kms_key(kms_settings: Settings, aws: Aws) -> None:
    only_kms = kms_settings.model_copy(update={"kek_provider": "aws_kms"})
    bootstrap(only_kms, migrate=True).store.dispose()
    wrong = only_kms.model_copy(update={"aws_kms_key_id": aws.other_kms_key_arn})
    # AWS answers IncorrectKeyException (-> "made with another key"); moto answers
    # AccessDeniedException (-> "AWS KMS refused"): either way start-up stops, naming both.
    with pytest.raises(KeyhouseError) as info:
        bootstrap(wrong)
    assert "KEYHOUSE_AWS_KMS_KEY_ID" in info.value.message
    assert aws.other_kms_key_arn in info.value.message
    dead = only_kms.model_copy(
        update={
            "aws_kms_endpoint_url": f"http://127.0.0.1:{free_port()}",
            "kms_timeout_seconds": 1.0,
        }
    )
    started = time.monotonic()
    with pytest.raises(KeyhouseError, match="KEYHOUSE_AWS_KMS_KEY_ID") as dead_info:
        bootstrap(dead)
    assert dead_info.value.code == "kms_unavailable"
    assert time.monotonic() - started < 30  # bounded by the KMS timeout, never a hang
    missing = only_kms.model_copy(update={"aws_kms_key_id": None})
    with pytest.raises(KekConfigError, match="KEYHOUSE_AWS_KMS_KEY_ID"):
        bootstrap(missing)


def test_serve_exits_before_binding_when_the_kms_refuses(
    kms_settings: Settings, aws: Aws, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **os.environ,
        **_cli_env(kms_settings, KEYHOUSE_KEK_PROVIDER="aws_kms"),
        "AWS_SECRET_ACCESS_KEY": "not-the-secret-" + "x" * 25,
    }
    subprocess.run(
        [sys.executable, "-m", "keyhouse", "db", "upgrade"],
        env=env,
        check=True,
        capture_output=True,
        timeout=90,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "keyhouse", "serve", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode != 0
    assert "AWS KMS refused" in proc.stderr and "KEYHOUSE_AWS_KMS_KEY_ID" in proc.stderr
    assert "Traceback" not in proc.stderr and "not-the-secret" not in proc.stderr
