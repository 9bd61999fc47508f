"""KEYHOUSE_ALLOW_AMBIENT_CREDENTIALS holds on every use, not only when a key is saved:
for every auth method the catalog marks ambient, a key made while the switch was on is
refused after a restart with it off — by the gateway (403 in the OpenAI envelope, naming
the setting), by "Test stored credential" and by "Save & test" — without a request to
any identity or provider fake; with the switch on again it works."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from keyhouse.app import create_app
from keyhouse.services import bootstrap
from keyhouse.testing.fakes.server import serve
from tests.cloud.keyless import ADMIN, AMBIENT, AMBIENT_IDS, add_key, chat, keyless_case, settings
from tests.conftest import LOG_SINK

SETTING = "KEYHOUSE_ALLOW_AMBIENT_CREDENTIALS"


def test_the_enumerated_class_is_the_catalogs_keyless_methods() -> None:
    # The list the tests below run over comes from the catalog; it is not empty, and it
    # holds the methods that act as the server's identity.
    assert {"default_chain", "assume_role", "adc", "managed_identity"} <= {m for _, m in AMBIENT}


@pytest.mark.parametrize("key", AMBIENT, ids=AMBIENT_IDS)
def test_a_keyless_key_is_refused_after_a_restart_with_the_switch_off(
    key: tuple[str, str],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    with keyless_case(key, request, monkeypatch, tmp_path) as case:
        on = settings(tmp_path, ambient=True)
        services = bootstrap(on, migrate=True)
        with serve(create_app(on, services)) as server:
            token = add_key(server.url, case)
            key_id = httpx.get(f"{server.url}/api/v1/keys", headers=ADMIN).json()["keys"][0]["id"]
        services.store.dispose()
        before = case.reached()
        logged = len(LOG_SINK.lines)

        off = settings(tmp_path, ambient=False)
        services = bootstrap(off)
        with serve(create_app(off, services)) as server:
            for stream in (False, True):
                r = chat(server.url, token, stream=stream)
                assert r.status_code == 403, r.text
                error = r.json()["error"]
                assert error["code"] == "ambient_credentials_disabled"
                assert error["type"] == "permission_error"
                assert f"{SETTING}=true" in error["message"] and case.method in error["message"]
            checks = [
                httpx.post(f"{server.url}/api/v1/keys/{key_id}/verify", headers=ADMIN),
                httpx.post(  # Save & test, with a setting changed
                    f"{server.url}/api/v1/keys/{key_id}/verify",
                    headers=ADMIN,
                    json={"config": {}, "credentials": case.credentials},
                ),
            ]
            for r in checks:
                assert r.status_code == 200, r.text
                assert r.json()["status"] == "error" and SETTING in r.json()["message"]
            # Editing it is refused too (the save-time gate), and changes nothing.
            r = httpx.patch(
                f"{server.url}/api/v1/keys/{key_id}", headers=ADMIN, json={"description": "x"}
            )
            assert r.status_code == 422 and SETTING in r.text
        services.store.dispose()
        assert case.reached() == before  # no identity, STS or provider fake was asked
        assert any("ambient_credentials_disabled" in line for line in LOG_SINK.lines[logged:])

        services = bootstrap(on)
        with serve(create_app(on, services)) as server:
            r = chat(server.url, token)
            assert r.status_code == 200, r.text
            assert r.json()["choices"][0]["message"]["content"] == "echo: hello"
        services.store.dispose()
        assert case.reached() > before
