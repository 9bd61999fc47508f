"""Vertex ``adc``, Azure OpenAI ``managed_identity`` and Databricks ``oauth_m2m`` end to
end through the gateway with the openai SDK: each gets its token from its identity fake
(GCE metadata server, Azure IMDS, the workspace's /oidc/v1/token), which hands its tokens
to the provider fake — the only tokens that provider accepts. A token is fetched once and
reused; an identity that refuses answers 502 naming the auth method."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from keyhouse.app import create_app
from keyhouse.services import bootstrap
from keyhouse.testing.fakes.server import free_port, serve
from tests.cloud.keyless import Keyless, add_key, keyless_case, point_env, settings

METHODS = [("vertex_ai", "adc"), ("openai", "managed_identity"), ("databricks", "oauth_m2m")]
DEAD = f"127.0.0.1:{free_port()}"

# What makes each identity refuse: credentials, config or environment.
BROKEN: dict[str, dict[str, Any]] = {
    "adc": {"env": {"GCE_METADATA_HOST": DEAD, "GCE_METADATA_IP": DEAD}},
    "managed_identity": {"credentials": {"client_id": "not-mine"}},
    "oauth_m2m": {"credentials": {"client_secret": "dose" + "W" * 32}},
}


@pytest.fixture(params=METHODS, ids=[m for _, m in METHODS])
def case(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Keyless]:
    with keyless_case(request.param, request, monkeypatch, tmp_path) as found:
        yield found


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[str]:
    on = settings(tmp_path, ambient=True)
    services = bootstrap(on, migrate=True)
    with serve(create_app(on, services)) as server:
        yield server.url
    services.store.dispose()


def _key(base: str, name: str, case: Keyless, credentials: dict[str, str]) -> str:
    return add_key(base, dataclasses.replace(case, credentials=credentials), name)


def _token_fetches(case: Keyless) -> int:
    paths = ("/token", "/metadata/identity/oauth2/token", "/oidc/v1/token")
    return sum(1 for s in case.servers for c in s.app.state.calls if c.path.endswith(paths))


def test_chat_with_a_token_from_the_identity(case: Keyless, gateway: str) -> None:
    token = _key(gateway, "keyless", case, case.credentials)
    client = openai.OpenAI(base_url=f"{gateway}/v1", api_key=token, max_retries=0, timeout=30)
    answer = client.chat.completions.create(
        model="keyless", messages=[{"role": "user", "content": "hello there"}]
    )
    assert answer.choices[0].message.content == "echo: hello there"
    fetched = _token_fetches(case)
    assert fetched >= 1
    chunks = client.chat.completions.create(
        model="keyless", stream=True, messages=[{"role": "user", "content": "one two"}]
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: one two"
    assert _token_fetches(case) == fetched  # cached for the key, not fetched per request
    from tests.conftest import LOG_SINK

    issued = _issued_tokens(case)
    assert issued
    for line in LOG_SINK.lines:  # no token the identity issued reached a log line
        assert not any(t in line or t[-16:] in line for t in issued), line


def _issued_tokens(case: Keyless) -> list[str]:
    """What the identity handed out (the metadata server and IMDS keep ``tokens``, the
    workspace ``workspace_tokens``)."""
    state = case.servers[0].app.state
    for name in ("tokens", "workspace_tokens"):
        if hasattr(state, name):
            return [str(t) for t in getattr(state, name)]
    return []


def test_an_identity_that_refuses_answers_502_naming_the_method(
    case: Keyless, gateway: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = BROKEN[case.method]
    point_env(monkeypatch, broken.get("env", {}))
    token = _key(gateway, "refused", case, {**case.credentials, **broken.get("credentials", {})})
    r = httpx.post(
        f"{gateway}/v1/chat/completions",
        timeout=60,
        headers={"Authorization": f"Bearer {token}"},
        json={"model": "refused", "messages": [{"role": "user", "content": "x"}]},
    )
    assert r.status_code == 502, r.text
    body = r.json()["error"]
    assert case.method in body["message"]
    assert "W" * 16 not in r.text  # the refused secret is not echoed
