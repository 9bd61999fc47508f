"""One contract over every KMS KEK provider, each against its real-protocol server:
start on a KMS KEK, reopen, refuse a wrong or absent KMS before serving, bind every wrapped
DEK to its row, and move every row from the key file to the KMS and back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from starlette.testclient import TestClient

from keyhouse.app import create_app
from keyhouse.cli import main
from keyhouse.errors import DecryptionFailed, KekConfigError, KeyhouseError
from keyhouse.services import bootstrap
from keyhouse.settings import Settings
from keyhouse.store.models import ApiKeyRow
from keyhouse.vault.kms.base import KmsKek
from tests.cloud.conftest import Kms
from tests.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SECRET = "sk-kms-contract-" + "q" * 24


def _settings(tmp_path: Path, kms: Kms, **extra: Any) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=f"sqlite:///{tmp_path}/kh.db",
        kek_file=tmp_path / "kek.key",
        admin_token=ADMIN_TOKEN,
        kms_timeout_seconds=2.0,
        **{**kms.settings, **extra},
    )


def _add_keys(settings: Settings, services: Any, n: int = 2) -> list[str]:
    with TestClient(create_app(settings, services), headers=ADMIN) as c:
        ids = []
        for i in range(n):
            r = c.post(
                "/api/v1/keys",
                json={"name": f"k{i}", "provider": "openai", "credentials": {"api_key": SECRET}},
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
    return ids


def _env(settings: Settings, kms: Kms, provider: str) -> dict[str, str]:
    env = {
        "KEYHOUSE_HOME": str(settings.home),
        "KEYHOUSE_DATABASE_URL": settings.resolved_database_url,
        "KEYHOUSE_KEK_FILE": str(settings.resolved_kek_file),
        "KEYHOUSE_KEK_PROVIDER": provider,
        "KEYHOUSE_KMS_TIMEOUT_SECONDS": "2",
    }
    for name, value in kms.settings.items():
        env[f"KEYHOUSE_{name.upper()}"] = str(value)
    return env


def _kek(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, ["kek", *args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    return result.output


def test_a_fresh_server_keeps_its_kek_in_the_kms(tmp_path: Path, kms: Kms) -> None:
    settings = _settings(tmp_path, kms, kek_provider=kms.kind)
    services = bootstrap(settings, migrate=True)
    assert not settings.resolved_kek_file.exists()  # no key file is ever written
    assert isinstance(services.keyring.primary, KmsKek)
    records = services.store.kek_records()
    assert [(r.version, r.source, r.state) for r in records] == [(1, kms.kind, "primary")]
    ids = _add_keys(settings, services)
    again = bootstrap(settings)  # a restart opens every row through the KMS
    for key_id in ids:
        assert again.registry.credential(key_id).secrets["api_key"] == SECRET
    # No DEK the KMS unwrapped (nor its base64) reached any log line, at any level.
    import base64

    from tests.conftest import LOG_SINK

    kek = again.keyring.primary
    assert isinstance(kek, KmsKek)
    deks = list(kek._deks.values())
    assert deks
    for line in LOG_SINK.lines:
        for dek in deks:
            assert base64.b64encode(dek).decode()[:24] not in line and dek.hex()[:24] not in line
    # A wrapped DEK moved onto another row does not open: the KMS checks the AAD.
    with again.store.write() as s:
        first = s.get(ApiKeyRow, ids[0])
        assert first is not None
        s.execute(
            update(ApiKeyRow).where(ApiKeyRow.id == ids[1]).values(wrapped_dek=first.wrapped_dek)
        )
    moved = bootstrap(settings)
    with pytest.raises(DecryptionFailed):
        moved.registry.credential(ids[1])
    assert moved.registry.credential(ids[0]).secrets["api_key"] == SECRET
    for svc in (services, again, moved):
        svc.store.dispose()


def test_start_up_refuses_a_wrong_or_absent_kms_key(tmp_path: Path, kms: Kms) -> None:
    settings = _settings(tmp_path, kms, kek_provider=kms.kind)
    bootstrap(settings, migrate=True).store.dispose()
    wrong = settings.model_copy(update=kms.wrong)
    with pytest.raises(KeyhouseError) as info:
        bootstrap(wrong)
    assert info.value.code in ("kek_config_error", "kms_unavailable")
    assert wrong_setting(kms) in info.value.message
    with pytest.raises(KeyhouseError) as dead:
        bootstrap(settings.model_copy(update=kms.dead))
    assert dead.value.code in ("kek_config_error", "kms_unavailable")
    assert wrong_setting(kms) in dead.value.message
    with pytest.raises(KekConfigError):  # the KMS setting dropped: rows cannot be opened
        bootstrap(
            settings.model_copy(
                update={
                    k: None
                    for k in kms.settings
                    if k.endswith(("_key_id", "_key_name", "_key_url", "_key"))
                }
                | {"kek_provider": None}
            )
        )


def wrong_setting(kms: Kms) -> str:
    return {
        "aws_kms": "KEYHOUSE_AWS_KMS_KEY_ID",
        "gcp_kms": "KEYHOUSE_GCP_KMS_KEY_NAME",
        "azure_keyvault": "KEYHOUSE_AZURE_KEYVAULT_KEY_URL",
        "vault_transit": "KEYHOUSE_VAULT_TRANSIT_KEY",
    }[kms.kind]


def test_kek_rotate_moves_every_row_to_the_kms_and_back(tmp_path: Path, kms: Kms) -> None:
    settings = _settings(tmp_path, kms)  # on the key file, the KMS configured
    services = bootstrap(settings, migrate=True)
    ids = _add_keys(settings, services, 3)
    out = _kek(_env(settings, kms, kms.kind), "rotate")
    assert f"in {kms.kind}" in out and "3 re-wrapped" in out
    _kek(_env(settings, kms, kms.kind), "retire", "1")
    again_out = _kek(_env(settings, kms, kms.kind), "rotate")  # already there: a no-op
    assert "added" not in again_out and "nothing to do" in again_out
    with services.store.read() as s:
        assert {r.kek_version for r in s.scalars(select(ApiKeyRow))} == {2}
    settings.resolved_kek_file.unlink()  # the old file is not needed any more
    on_kms = bootstrap(settings.model_copy(update={"kek_provider": kms.kind}))
    assert on_kms.keyring.versions == [2]
    assert on_kms.registry.credential(ids[2]).secrets["api_key"] == SECRET
    out = _kek(_env(settings, kms, "file"), "rotate")  # and back to a (new) key file
    assert "added KEK version 3 to" in out and "3 re-wrapped" in out
    _kek(_env(settings, kms, "file"), "retire", "2")
    file_only = settings.model_copy(
        update={
            k: None
            for k in kms.settings
            if k.endswith(("_key_id", "_key_name", "_key_url", "_key"))
        }
    )
    back = bootstrap(file_only)
    assert back.keyring.versions == [3]
    assert back.registry.credential(ids[0]).secrets["api_key"] == SECRET
    for svc in (services, on_kms, back):
        svc.store.dispose()
