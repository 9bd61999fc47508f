"""KEK rotation online, credential versions, rollback, verify (SECURITY.md 7 and 8)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from keyhouse.app import create_app
from keyhouse.errors import Conflict, DecryptionFailed
from keyhouse.services import Services
from keyhouse.settings import Settings
from keyhouse.store.credentials import rewrap_all
from keyhouse.store.kek_versions import add_to_key_file, promote, retire
from keyhouse.store.models import ApiKeyRow, ApiKeyVersionRow
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import ServerThread, serve
from keyhouse.vault.envelope import Sealed, open_sealed
from tests.conftest import ADMIN_TOKEN

FAKE_KEY = "sk-fake-upstream-" + "k" * 24
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def fake() -> Iterator[ServerThread]:
    with serve(openai_fake(api_key=FAKE_KEY)) as server:
        yield server


@pytest.fixture
def server(settings: Settings, services: Services) -> Iterator[ServerThread]:
    with serve(create_app(settings, services)) as running:
        yield running


def _setup(base: str, fake: ServerThread, n_keys: int = 3) -> tuple[list[str], str]:
    keys = []
    with httpx.Client(base_url=base, headers=ADMIN) as c:
        for i in range(n_keys):
            r = c.post(
                "/api/v1/keys",
                json={
                    "name": f"key-{i}",
                    "provider": "openai_compatible",
                    "credentials": {"api_key": FAKE_KEY},
                    "config": {"base_url": fake.url + "/v1"},
                },
            )
            assert r.status_code == 201, r.text
            keys.append(r.json()["id"])
            for ep in (f"chat-{i}a", f"chat-{i}b"):
                r = c.post(
                    "/api/v1/endpoints",
                    json={
                        "name": ep,
                        "targets": [
                            {"key_id": r.json()["id"] if False else keys[-1], "model": "gpt-4o"}
                        ],
                    },
                )
                assert r.status_code == 201, r.text
        token = c.post("/api/v1/access-tokens", json={"name": "load"}).json()["token"]
    return keys, token


class Load:
    """Calls two endpoints in a loop from a thread and counts every non-200."""

    def __init__(self, base: str, token: str, endpoints: list[str]) -> None:
        self.base, self.token, self.endpoints = base, token, endpoints
        self.ok = 0
        self.failures: list[Any] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(
            base_url=self.base, timeout=10, headers={"Authorization": f"Bearer {self.token}"}
        ) as c:
            i = 0
            while not self._stop.is_set():
                ep = self.endpoints[i % len(self.endpoints)]
                i += 1
                try:
                    r = c.post(
                        "/v1/chat/completions",
                        json={"model": ep, "messages": [{"role": "user", "content": "ping"}]},
                    )
                    if r.status_code == 200:
                        self.ok += 1
                    else:
                        self.failures.append((r.status_code, r.text[:200]))
                except httpx.HTTPError as exc:
                    self.failures.append(type(exc).__name__)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=20)


def _sealed_rows(services: Services) -> dict[str, tuple[bytes, bytes, int]]:
    with services.store.read() as s:
        return {
            r.id: (r.ciphertext, r.wrapped_dek, r.kek_version) for r in s.scalars(select(ApiKeyRow))
        }


def test_rotation_under_load_has_no_failed_request(
    settings: Settings, services: Services, server: ServerThread, fake: ServerThread
) -> None:
    """SECURITY.md test 7 and test 8."""
    _, token = _setup(server.url, fake)
    before = _sealed_rows(services)
    source_path = settings.resolved_kek_file
    keyring = services.keyring
    with Load(server.url, token, ["chat-0a", "chat-1b", "chat-2a"]) as load:
        time.sleep(0.3)
        from keyhouse.vault.kek import KeyFileSource

        new_version = add_to_key_file(KeyFileSource(source_path), services.store, keyring)
        time.sleep(0.6)  # the server re-reads its KEK file when it sees the new version
        promote(services.store, keyring, new_version)
        with pytest.raises(Conflict):
            retire(services.store, 1)  # rows still use version 1 (test 8)
        report = rewrap_all(services.store, keyring, batch=1)
        time.sleep(0.6)
    assert load.failures == []
    assert load.ok > 20
    assert report.rewrapped == 3
    after = _sealed_rows(services)
    for key_id, (ct, dek, version) in after.items():
        assert ct == before[key_id][0]  # credential ciphertexts unchanged
        assert dek != before[key_id][1]  # wrapped DEKs changed
        assert version == new_version
    assert rewrap_all(services.store, keyring).rewrapped == 0  # re-run is a no-op
    assert _sealed_rows(services) == after
    retire(services.store, 1)
    old = services.keyring.get(1)
    with services.store.read() as s:
        for row in s.scalars(select(ApiKeyRow)):
            sealed = Sealed(row.format, 1, row.wrapped_dek, row.ciphertext)
            with pytest.raises(DecryptionFailed):
                open_sealed(old, sealed, "api_keys", row.id, row.provider, ("api_key",))


def test_interrupted_rewrap_resumes(
    settings: Settings, services: Services, server: ServerThread, fake: ServerThread
) -> None:
    keys, _ = _setup(server.url, fake, n_keys=3)
    from keyhouse.vault.kek import KeyFileSource

    version = add_to_key_file(
        KeyFileSource(settings.resolved_kek_file), services.store, services.keyring
    )
    promote(services.store, services.keyring, version)
    first = rewrap_all(services.store, services.keyring, batch=10, stop_after=1)
    assert first.rewrapped == 1
    assert services.store.kek_versions_in_use() == {1: 2, version: 1}
    second = rewrap_all(services.store, services.keyring)
    assert second.rewrapped == 2
    assert services.store.kek_versions_in_use() == {version: 3}
    services.registry.load()
    for key_id in keys:
        assert services.registry.credential(key_id).secrets["api_key"] == FAKE_KEY


def test_versions_and_rollback_make_the_next_request_use_the_old_credential(
    services: Services, server: ServerThread, fake: ServerThread
) -> None:
    keys, token = _setup(server.url, fake, n_keys=1)
    key_id = keys[0]
    gw = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"})
    admin = httpx.Client(base_url=server.url, headers=ADMIN)
    body = {"model": "chat-0a", "messages": [{"role": "user", "content": "hi"}]}
    assert gw.post("/v1/chat/completions", json=body).status_code == 200
    wrong = "sk-wrong-" + "w" * 30
    for i in range(6):  # more edits than the 5 kept versions
        r = admin.patch(f"/api/v1/keys/{key_id}", json={"credentials": {"api_key": f"{wrong}{i}"}})
        assert r.status_code == 200
    assert r.json()["credential_version"] == 7
    assert gw.post("/v1/chat/completions", json=body).status_code == 401
    versions = admin.get(f"/api/v1/keys/{key_id}/versions").json()["versions"]
    assert [v["version"] for v in versions] == [7, 6, 5, 4, 3, 2]
    assert versions[0]["current"] and not versions[1]["current"]
    assert all("wrong" not in str(v) for v in versions)
    with services.store.read() as s:
        assert len(s.scalars(select(ApiKeyVersionRow.id)).all()) == 5
    # Version 1 (the working credential) fell out of the kept five; roll back to version 6
    # and then to the good one by re-entering it as an edit, then back and forth.
    assert admin.post(f"/api/v1/keys/{key_id}/rollback", json={"version": 1}).status_code == 404
    admin.patch(f"/api/v1/keys/{key_id}", json={"credentials": {"api_key": FAKE_KEY}})
    admin.patch(f"/api/v1/keys/{key_id}", json={"credentials": {"api_key": wrong}})
    assert gw.post("/v1/chat/completions", json=body).status_code == 401
    good = admin.get(f"/api/v1/keys/{key_id}/versions").json()["versions"][1]["version"]
    stale = admin.post(
        f"/api/v1/keys/{key_id}/rollback", json={"version": good}, headers={"If-Match": "1"}
    )
    assert stale.status_code == 412
    current = admin.get(f"/api/v1/keys/{key_id}").json()["version"]
    r = admin.post(
        f"/api/v1/keys/{key_id}/rollback",
        json={"version": good},
        headers={"If-Match": str(current)},
    )
    assert r.status_code == 200, r.text
    assert gw.post("/v1/chat/completions", json=body).status_code == 200
    assert fake.app.state.calls[-1].headers["authorization"] == f"Bearer {FAKE_KEY}"
    events = admin.get("/api/v1/audit").json()["events"]
    assert events[0]["action"] == "key.rollback"


def test_rotation_reminder(services: Services, server: ServerThread, fake: ServerThread) -> None:
    admin = httpx.Client(base_url=server.url, headers=ADMIN)
    key = admin.post(
        "/api/v1/keys",
        json={
            "name": "due",
            "provider": "openai",
            "credentials": {"api_key": FAKE_KEY},
            "rotate_after_days": 30,
        },
    ).json()
    assert key["rotation_due"] is False and key["credential_age_days"] == 0
    with services.store.write() as s:
        row = s.get(ApiKeyRow, key["id"])
        assert row is not None
        from datetime import timedelta

        row.credential_updated_at = row.credential_updated_at - timedelta(days=31)
    view = admin.get(f"/api/v1/keys/{key['id']}").json()
    assert view["rotation_due"] is True and view["credential_age_days"] == 31
    r = admin.patch(f"/api/v1/keys/{key['id']}", json={"rotate_after_days": 0})
    assert r.json()["rotate_after_days"] is None and r.json()["rotation_due"] is False


def test_verify_reports_ok_rejected_and_unreachable(
    server: ServerThread, fake: ServerThread
) -> None:
    admin = httpx.Client(base_url=server.url, headers=ADMIN)
    results = {}
    for name, secret, base in (
        ("good", FAKE_KEY, fake.url + "/v1"),
        ("bad", "sk-bad-" + "b" * 30, fake.url + "/v1"),
        ("gone", FAKE_KEY, "http://127.0.0.1:9/v1"),
    ):
        key = admin.post(
            "/api/v1/keys",
            json={
                "name": name,
                "provider": "openai_compatible",
                "credentials": {"api_key": secret},
                "config": {"base_url": base},
            },
        ).json()
        r = admin.post(f"/api/v1/keys/{key['id']}/verify")
        assert r.status_code == 200
        results[name] = r.json()
        assert secret not in r.text and secret[-8:] not in r.text
    assert results["good"]["status"] == "ok"
    assert results["bad"]["status"] == "rejected"
    assert results["gone"]["status"] == "unreachable"
