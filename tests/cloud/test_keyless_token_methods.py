"""Vertex ``adc``, Azure OpenAI ``managed_identity`` and Databricks ``oauth_m2m`` end to
end through the gateway with the openai SDK: each gets its token from its identity fake
(GCE metadata server, Azure IMDS, the workspace's /oidc/v1/token), which hands its tokens
to the provider fake — the only tokens that provider accepts. A token is fetched once and
reused; an identity that refuses answers 502 naming the auth method."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from keyhouse.app import create_app
from keyhouse.services import bootstrap
from keyhouse.settings import Settings
from keyhouse.testing.fakes import azure_identity, google_cloud
from keyhouse.testing.fakes.gemini import create_app as gemini_fake
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import ServerThread, free_port, serve
from tests.cloud.conftest import apply_env, gce_env
from tests.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
DATABRICKS_SECRET = "dose" + "D" * 32
METHODS = ["adc", "managed_identity", "oauth_m2m"]


@dataclass
class Case:
    provider: str
    method: str
    credentials: dict[str, str]
    config: dict[str, str]
    model: str
    identity: ServerThread  # whose calls count the token fetches
    broken: dict[str, Any]  # credentials/config/env that make the identity refuse


@pytest.fixture(params=METHODS)
def case(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Case]:
    with ExitStack() as stack:
        if request.param == "adc":
            vertex = gemini_fake()
            metadata = stack.enter_context(
                serve(google_cloud.create_metadata_app(publish=[vertex.state.tokens]))
            )
            provider = stack.enter_context(serve(vertex))
            apply_env(monkeypatch, gce_env(metadata.url, tmp_path))
            dead = f"127.0.0.1:{free_port()}"
            found = Case(
                "vertex_ai",
                "adc",
                {},
                {"project_id": "keyhouse-test", "base_url": provider.url},
                "gemini-2.0-flash",
                metadata,
                {"env": {"GCE_METADATA_HOST": dead, "GCE_METADATA_IP": dead}},
            )
        elif request.param == "managed_identity":
            azure = openai_fake()
            imds = stack.enter_context(
                serve(
                    azure_identity.create_imds_app(
                        user_assigned=("uai-keyhouse",),
                        publish={"https://cognitiveservices.azure.com": azure.state.entra_tokens},
                    )
                )
            )
            provider = stack.enter_context(serve(azure))
            apply_env(monkeypatch, {"AZURE_POD_IDENTITY_AUTHORITY_HOST": imds.url})
            found = Case(
                "openai",
                "managed_identity",
                {"client_id": "uai-keyhouse"},
                {"endpoint_url": provider.url, "api_version": "2024-10-21"},
                "gpt-4o-mini",
                imds,
                {"credentials": {"client_id": "not-mine"}},
            )
        else:
            provider = stack.enter_context(
                serve(openai_fake(databricks_client=("sp-keyhouse", DATABRICKS_SECRET)))
            )
            found = Case(
                "databricks",
                "oauth_m2m",
                {"client_secret": DATABRICKS_SECRET},
                {"host": provider.url, "client_id": "sp-keyhouse"},
                "databricks-meta-llama-3-3-70b-instruct",
                provider,
                {"credentials": {"client_secret": "dose" + "W" * 32}},
            )
        yield found


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[str]:
    settings = Settings(
        home=tmp_path / "home",
        database_url=f"sqlite:///{tmp_path}/kh.db",
        kek_file=tmp_path / "kek.key",
        admin_token=ADMIN_TOKEN,
        allow_private_upstreams=True,
        allow_ambient_credentials=True,
    )
    services = bootstrap(settings, migrate=True)
    with serve(create_app(settings, services)) as server:
        yield server.url
    services.store.dispose()


def _key(base: str, name: str, case: Case, credentials: dict[str, str]) -> str:
    with httpx.Client(base_url=base, headers=ADMIN) as c:
        r = c.post(
            "/api/v1/keys",
            json={
                "name": name,
                "provider": case.provider,
                "auth_method": case.method,
                "credentials": credentials,
                "config": case.config,
            },
        )
        assert r.status_code == 201, r.text
        r = c.post(
            "/api/v1/endpoints",
            json={"name": name, "targets": [{"key_id": r.json()["id"], "model": case.model}]},
        )
        assert r.status_code == 201, r.text
        token: str = c.post("/api/v1/access-tokens", json={"name": name}).json()["token"]
    return token


def _token_fetches(case: Case) -> int:
    paths = ("/token", "/metadata/identity/oauth2/token", "/oidc/v1/token")
    return sum(1 for c in case.identity.app.state.calls if c.path.endswith(paths))


def test_chat_with_a_token_from_the_identity(case: Case, gateway: str) -> None:
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


def _issued_tokens(case: Case) -> list[str]:
    state = case.identity.app.state
    for name in ("tokens", "workspace_tokens"):
        if hasattr(state, name):
            return [str(t) for t in getattr(state, name)]
    return []


def test_an_identity_that_refuses_answers_502_naming_the_method(
    case: Case, gateway: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in case.broken.get("env", {}).items():
        monkeypatch.setenv(name, value)
    if "GCE_METADATA_HOST" in case.broken.get("env", {}):
        apply_env(monkeypatch, case.broken["env"])
    token = _key(
        gateway, "refused", case, {**case.credentials, **case.broken.get("credentials", {})}
    )
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
