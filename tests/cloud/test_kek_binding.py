"""Every KEK provider binds a wrapped DEK to its row and KEK version (docs/security.md,
"The envelope"): the key file, the passphrase and every KMS of vault/kms/ — Key Vault
included, whose wrapKey takes no associated data (it wraps DEK || SHA-256(aad), checked on
unwrap). A wrapped DEK moved to another key's row does not unwrap; presented under another
KEK version it does not unwrap; moved onto another credential version of the same key
(which shares the wrap AAD, so that only this key can roll back to it) the credential does
not open, since every version has its own DEK. Each is a typed DecryptionFailed, a
generic 500 to a caller, and no plaintext anywhere."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from keyhouse.app import create_app
from keyhouse.errors import DecryptionFailed
from keyhouse.services import Services, bootstrap
from keyhouse.settings import Settings
from keyhouse.store.models import ApiKeyRow, ApiKeyVersionRow
from keyhouse.vault.envelope import Kek
from keyhouse.vault.kms.base import KmsKek
from keyhouse.vault.kms.keyring import KMS_SETTINGS, LOCAL_KINDS
from tests.cloud.conftest import kms_for
from tests.conftest import ADMIN_TOKEN, LOG_SINK

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PROVIDERS = [*LOCAL_KINDS, *KMS_SETTINGS]
SECRETS = {name: f"sk-bind-{name}-" + "z" * 24 for name in ("a1", "a2", "b1")}


@pytest.fixture(params=PROVIDERS)
def kek_settings(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    kind = request.param
    extra: dict[str, Any] = {"kek_provider": kind}
    with ExitStack() as stack:
        if kind == "passphrase":
            extra["kek_passphrase"] = "correct horse battery staple"
        elif kind in KMS_SETTINGS:
            extra.update(kms_for(kind, stack, request, tmp_path, monkeypatch).settings)
        yield Settings(
            home=tmp_path / "home",
            database_url=f"sqlite:///{tmp_path}/kh.db",
            kek_file=tmp_path / "kek.key",
            admin_token=ADMIN_TOKEN,
            kms_timeout_seconds=2.0,
            **extra,
        )


def _keys(settings: Settings, services: Services) -> tuple[str, str]:
    """Key A with a kept earlier version (a1, then a2), and key B (b1)."""
    with TestClient(create_app(settings, services), headers=ADMIN) as c:
        ids = []
        for name in ("a", "b"):
            r = c.post(
                "/api/v1/keys",
                json={
                    "name": name,
                    "provider": "openai",
                    "credentials": {"api_key": SECRETS[f"{name}1"]},
                },
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        r = c.patch(f"/api/v1/keys/{ids[0]}", json={"credentials": {"api_key": SECRETS["a2"]}})
        assert r.status_code == 200, r.text
    return ids[0], ids[1]


def _wrapped(services: Services, key_id: str) -> tuple[int, bytes]:
    with services.store.read() as s:
        row = s.get(ApiKeyRow, key_id)
        assert row is not None
        return row.kek_version, row.wrapped_dek


def _set_wrapped(services: Services, key_id: str, wrapped: bytes) -> None:
    with services.store.write() as s:
        s.execute(update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(wrapped_dek=wrapped))


def _refused(services: Services, key_id: str) -> None:
    with pytest.raises(DecryptionFailed) as info:
        services.registry.credential(key_id)
    assert not any(v in str(info.value) for v in SECRETS.values())


def test_a_wrapped_dek_opens_only_on_its_row_and_version(kek_settings: Settings) -> None:
    services = bootstrap(kek_settings, migrate=True)
    a, b = _keys(kek_settings, services)
    version, a_wrapped = _wrapped(services, a)
    _, b_wrapped = _wrapped(services, b)
    kek = services.keyring.get(version)
    assert kek.unwrap(a_wrapped, a)  # the control: on its own row it opens
    with services.store.read() as s:
        kept = s.scalars(select(ApiKeyVersionRow).where(ApiKeyVersionRow.key_id == a)).one()
        kept_wrapped = kept.wrapped_dek

    # Another key's row: the KEK itself refuses it (the AAD names the row).
    with pytest.raises(DecryptionFailed):
        kek.unwrap(b_wrapped, a)
    # Another KEK version, same key material: refused too (the AAD names the version).
    relabelled: Kek = (
        KmsKek(version + 1, kek.provider) if isinstance(kek, KmsKek) else _same_key(kek, version)
    )
    with pytest.raises(DecryptionFailed):
        relabelled.unwrap(a_wrapped, a)

    for moved in (b_wrapped, kept_wrapped):  # another key's DEK; this key's older DEK
        _set_wrapped(services, a, moved)
        reopened = bootstrap(kek_settings)  # a fresh process: no DEK cached
        _refused(reopened, a)
        assert reopened.registry.credential(b).secrets["api_key"] == SECRETS["b1"]
        with TestClient(create_app(kek_settings, reopened), headers=ADMIN) as c:
            r = c.post(f"/api/v1/keys/{a}/verify")
            assert not any(v in r.text for v in SECRETS.values())
        reopened.store.dispose()
    _set_wrapped(services, a, a_wrapped)
    again = bootstrap(kek_settings)
    assert again.registry.credential(a).secrets["api_key"] == SECRETS["a2"]
    for line in LOG_SINK.lines:
        assert not any(v in line for v in SECRETS.values()), line
    for svc in (services, again):
        svc.store.dispose()


def _same_key(kek: Kek, version: int) -> Kek:
    """The local KEK's own bytes under another version number."""
    relabelled = Kek.__new__(Kek)
    relabelled.version = version + 1
    relabelled._aead = kek._aead  # type: ignore[attr-defined]
    return relabelled
