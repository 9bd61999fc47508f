"""Every request a key makes to an admin-supplied URL — the provider call and the token
fetch alike (Databricks' workspace token endpoint, a service account's token_uri, an Entra
authority) — passes the upstream URL policy, at save time and again at connect time.

For every auth method of the catalog with a URL-bearing field, every such field points at
a name: resolving to loopback at save time it is refused (422, nothing stored); resolving
public at save time and to loopback when the call is made (DNS rebinding) the call is
refused (502 naming the address) and no request reaches the listener on that address.
The identities the operator's own environment points at (the metadata server, IMDS,
moto's STS through AWS_ENDPOINT_URL_STS) are on 127.0.0.1 here and stay reachable: they
are the operator's choice, not an admin's."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from keyhouse.app import create_app
from keyhouse.providers.catalog import PROVIDERS, AuthMethod, FieldSpec
from keyhouse.services import bootstrap
from keyhouse.testing.fakes.gemini import make_service_account
from keyhouse.testing.fakes.server import Recorded, ServerThread, serve, serve_canned
from tests.api.catalog_bodies import config_value, secret_value
from tests.cloud.keyless import ADMIN, Keyless, chat, keyless_case, settings

HOST = "rebind.example"
PUBLIC = "93.184.216.34"


def _url_bearing(method: AuthMethod) -> list[FieldSpec]:
    """Config URLs, and a JSON credential (a service account carries its token_uri)."""
    return [f for f in (*method.config_fields, *method.secret_fields) if f.kind in ("url", "json")]


CASES = [(p.id, m.id) for p in PROVIDERS for m in p.auth_methods if _url_bearing(m)]


class Dns:
    """socket.getaddrinfo with one name whose answer the test changes; every other name
    (127.0.0.1 of the fakes) resolves as usual."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answer = "127.0.0.1"
        real = socket.getaddrinfo

        def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else host
            if name != HOST:
                return real(host, port, *args, **kwargs)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (self.answer, int(port or 0)))]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def listener() -> Iterator[tuple[ServerThread, list[Recorded]]]:
    """What sits on the private address: it must never hear a request."""
    heard: list[Recorded] = []

    def answer(recorded: Recorded) -> tuple[int, bytes, dict[str, str]]:
        heard.append(recorded)
        return 200, b'{"access_token": "x", "expires_in": 3600}', {}

    with serve_canned(answer) as server:
        yield server, heard


def _body(provider: str, method: AuthMethod, url: str, case: Keyless | None) -> dict[str, Any]:
    urls = {f.name for f in _url_bearing(method)}
    credentials = dict(case.credentials) if case else {}
    config = dict(case.config) if case else {}
    for f in method.secret_fields:
        if case is None and (f.required or f.name in urls):
            if f.kind == "json":
                credentials[f.name] = json.dumps(make_service_account(f"{url}/token")[0])
            else:
                credentials[f.name] = secret_value(f)
    for f in method.config_fields:
        if f.name in urls:
            config[f.name] = f"{url}/{f.name}"
        elif case is None and f.required:
            config[f.name] = config_value(f)
    return {
        "name": "k",
        "provider": provider,
        "auth_method": method.id,
        "credentials": credentials,
        "config": config,
    }


def test_the_class_holds_every_token_fetch_with_an_admin_supplied_url() -> None:
    ids = set(CASES)
    assert ("databricks", "oauth_m2m") in ids  # the workspace token endpoint
    assert ("vertex_ai", "service_account") in ids  # the JSON's token_uri
    assert ("openai", "azure_entra_id") in ids  # the Entra authority


@pytest.mark.parametrize("key", CASES, ids=[f"{p}/{m}" for p, m in CASES])
def test_every_url_field_is_judged_at_save_and_at_connect_time(
    key: tuple[str, str],
    listener: tuple[ServerThread, list[Recorded]],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    spec = next(p for p in PROVIDERS if p.id == key[0])
    method = spec.auth_method(key[1])
    assert method is not None
    server, heard = listener
    url = f"http://{HOST}:{server.port}"
    with ExitStack() as stack:
        case = None
        if method.ambient:  # its identity from the operator's environment, working
            case = stack.enter_context(keyless_case(key, request, monkeypatch, tmp_path))
        dns = Dns(monkeypatch)
        body = _body(spec.id, method, url, case)
        on = settings(tmp_path, ambient=True, private=False)
        services = bootstrap(on, migrate=True)
        stack.callback(services.store.dispose)
        gateway = stack.enter_context(serve(create_app(on, services))).url
        with httpx.Client(base_url=gateway, headers=ADMIN, timeout=30) as admin:
            dns.answer = "127.0.0.1"  # the name stands for loopback when the key is saved
            r = admin.post("/api/v1/keys", json=body)
            assert r.status_code == 422, r.text
            refused = {f["field"] for f in r.json()["error"]["fields"]}
            expected = {
                f"{'credentials' if f.secret else 'config'}.{f.name}" for f in _url_bearing(method)
            }
            assert expected <= refused, r.text
            assert admin.get("/api/v1/keys").json()["keys"] == []

            dns.answer = PUBLIC  # public when saved ...
            r = admin.post("/api/v1/keys", json=body)
            assert r.status_code == 201, r.text
            key_id = r.json()["id"]
            model = case.model if case else "some-model"
            endpoint = {"name": "k", "targets": [{"key_id": key_id, "model": model}]}
            assert admin.post("/api/v1/endpoints", json=endpoint).status_code == 201
            token = admin.post("/api/v1/access-tokens", json={"name": "k"}).json()["token"]

            dns.answer = "127.0.0.1"  # ... loopback when the call is made
            r = chat(gateway, token, name="k")
            assert r.status_code == 502, r.text
            message = r.json()["error"]["message"]
            assert HOST in message and "127.0.0.1" in message, message
            checked = admin.post(f"/api/v1/keys/{key_id}/verify").json()
            assert checked["status"] != "ok" and HOST in checked["message"], checked
    assert heard == []  # not one request reached the private address
