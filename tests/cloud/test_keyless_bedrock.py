"""Bedrock without a stored AWS secret: ``assume_role`` through moto's STS (SigV4 and IAM
enforced) and ``default_chain``, end to end through the gateway with the openai SDK; the
Bedrock fake accepts exactly the session credentials moto issued, as AWS does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from starlette.testclient import TestClient

from keyhouse.app import create_app
from keyhouse.services import bootstrap
from keyhouse.testing.fakes.aws import Aws, assumed_credentials
from keyhouse.testing.fakes.bedrock import create_app as bedrock_fake
from keyhouse.testing.fakes.server import ServerThread, serve
from tests.cloud.keyless import settings as keyless_settings
from tests.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.fixture
def aws(aws_server: Aws) -> Aws:
    """One moto for the session (its state and IAM switch are per process)."""
    return aws_server


@pytest.fixture
def chain(aws: Aws, monkeypatch: pytest.MonkeyPatch) -> Aws:
    """botocore's default chain on this server finds the IAM user (environment)."""
    for name, value in aws.env().items():
        monkeypatch.setenv(name, value)
    return aws


@pytest.fixture
def bedrock(aws: Aws) -> Iterator[ServerThread]:
    # Accepts the IAM user's own keys and any session moto's STS issued; nothing else.
    with serve(
        bedrock_fake(
            access_key_id=aws.access_key_id,
            secret_access_key=aws.secret_access_key,
            sessions=assumed_credentials,
        )
    ) as server:
        yield server


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[str, Any]]:
    settings = keyless_settings(tmp_path, ambient=True)
    services = bootstrap(settings, migrate=True)
    with serve(create_app(settings, services)) as server:
        yield server.url, services
    services.store.dispose()


def _key_and_endpoint(
    base: str, name: str, auth_method: str, credentials: dict[str, str], bedrock: ServerThread
) -> str:
    with httpx.Client(base_url=base, headers=ADMIN) as c:
        r = c.post(
            "/api/v1/keys",
            json={
                "name": name,
                "provider": "bedrock",
                "auth_method": auth_method,
                "credentials": credentials,
                "config": {"region": "us-east-1", "base_url": bedrock.url},
            },
        )
        assert r.status_code == 201, r.text
        r = c.post(
            "/api/v1/endpoints",
            json={"name": name, "targets": [{"key_id": r.json()["id"], "model": MODEL}]},
        )
        assert r.status_code == 201, r.text
        token: str = c.post("/api/v1/access-tokens", json={"name": name}).json()["token"]
    return token


def _roles(aws: Aws) -> int:
    from moto.sts.models import sts_backends

    return sum(len(b.assumed_roles) for b in sts_backends["123456789012"].values())


def _signed_with(call: Any) -> str:
    return str(call.headers["authorization"].split("Credential=")[1].split("/")[0])


def test_assume_role_chat_is_signed_with_the_assumed_credentials(
    chain: Aws, bedrock: ServerThread, gateway: tuple[str, Any]
) -> None:
    base, _ = gateway
    token = _key_and_endpoint(
        base,
        "bedrock-role",
        "assume_role",
        {
            "role_arn": chain.role_arn,
            "external_id": chain.external_id,
            "session_name": "keyhouse-test",
        },
        bedrock,
    )
    roles_before = _roles(chain)
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=token, max_retries=0, timeout=30)
    answer = client.chat.completions.create(
        model="bedrock-role", messages=[{"role": "user", "content": "hello there"}]
    )
    assert answer.choices[0].message.content == "echo: hello there"
    call = bedrock.app.state.calls[-1]
    key_id = _signed_with(call)
    issued = assumed_credentials(key_id)
    assert issued is not None and key_id != chain.access_key_id  # a role session, not the user
    assert call.headers["x-amz-security-token"] == issued[1]
    assert _roles(chain) == roles_before + 1
    streamed = client.chat.completions.create(
        model="bedrock-role", stream=True, messages=[{"role": "user", "content": "a b"}]
    )
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == "echo: a b"
    assert _roles(chain) == roles_before + 1  # the session is cached, not assumed per request
    assert _signed_with(bedrock.app.state.calls[-1]) == key_id


def test_assume_role_on_top_of_stored_access_keys(
    aws: Aws, bedrock: ServerThread, gateway: tuple[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No credentials in the server's chain at all: the stored keys assume the role."""
    for name, value in aws.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    base, _ = gateway
    token = _key_and_endpoint(
        base,
        "bedrock-stored",
        "assume_role",
        {
            "role_arn": aws.role_arn,
            "aws_access_key_id": aws.access_key_id,
            "aws_secret_access_key": aws.secret_access_key,
        },
        bedrock,
    )
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=token, max_retries=0, timeout=30)
    answer = client.chat.completions.create(
        model="bedrock-stored", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content == "echo: hi"
    assert assumed_credentials(_signed_with(bedrock.app.state.calls[-1])) is not None


def test_default_chain_signs_with_the_servers_identity(
    chain: Aws, bedrock: ServerThread, gateway: tuple[str, Any]
) -> None:
    base, _ = gateway
    token = _key_and_endpoint(base, "bedrock-chain", "default_chain", {}, bedrock)
    client = openai.OpenAI(base_url=f"{base}/v1", api_key=token, max_retries=0, timeout=30)
    answer = client.chat.completions.create(
        model="bedrock-chain", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content == "echo: hi"
    assert _signed_with(bedrock.app.state.calls[-1]) == chain.access_key_id


def test_a_role_sts_refuses_answers_502_naming_the_auth_method(
    chain: Aws, bedrock: ServerThread, gateway: tuple[str, Any]
) -> None:
    base, _ = gateway
    token = _key_and_endpoint(
        base, "bedrock-nope", "assume_role", {"role_arn": chain.foreign_role_arn}, bedrock
    )
    r = httpx.post(
        f"{base}/v1/chat/completions",
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
        json={"model": "bedrock-nope", "messages": [{"role": "user", "content": "x"}]},
    )
    assert r.status_code == 502, r.text
    message = r.json()["error"]["message"]
    assert "assume_role" in message and "AssumeRole" in message
    assert chain.secret_access_key not in r.text


def test_no_chain_credentials_answers_502_naming_the_auth_method(
    aws: Aws,
    bedrock: ServerThread,
    gateway: tuple[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    base, _ = gateway
    token = _key_and_endpoint(base, "bedrock-empty", "default_chain", {}, bedrock)
    r = httpx.post(
        f"{base}/v1/chat/completions",
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
        json={"model": "bedrock-empty", "messages": [{"role": "user", "content": "x"}]},
    )
    assert r.status_code == 502, r.text
    assert "default_chain" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("provider", "method", "credentials", "config"),
    [
        ("bedrock", "default_chain", {}, {"region": "us-east-1"}),
        ("bedrock", "assume_role", {"role_arn": "arn:aws:iam::1:role/r"}, {"region": "us-east-1"}),
        ("vertex_ai", "adc", {}, {"project_id": "p"}),
        (
            "openai",
            "managed_identity",
            {},
            {"endpoint_url": "https://r.openai.azure.com", "api_version": "2024-10-21"},
        ),
        (
            "databricks",
            "oauth_m2m",
            {"client_secret": "dose" + "x" * 30},
            {"host": "https://adb-1.azuredatabricks.net", "client_id": "sp-1"},
        ),
    ],
)
def test_keyless_methods_need_the_operators_consent(
    tmp_path: Path, provider: str, method: str, credentials: dict[str, str], config: dict[str, str]
) -> None:
    from keyhouse.providers import catalog

    assert catalog.get(provider).auth_method(method).ambient  # type: ignore[union-attr]
    body = {
        "name": "k",
        "provider": provider,
        "auth_method": method,
        "credentials": credentials,
        "config": config,
    }
    for ambient, status in ((False, 422), (True, 201)):
        settings = keyless_settings(tmp_path / str(ambient), ambient=ambient)
        services = bootstrap(settings, migrate=True)
        with TestClient(create_app(settings, services), headers=ADMIN) as c:
            r = c.post("/api/v1/keys", json=body)
            assert r.status_code == status, r.text
            if not ambient:
                assert "KEYHOUSE_ALLOW_AMBIENT_CREDENTIALS" in r.text
                assert c.get("/api/v1/keys").json()["keys"] == []  # nothing was stored
        services.store.dispose()


def test_every_ambient_method_is_listed_as_such() -> None:
    from keyhouse.providers.catalog import PROVIDERS

    ambient = {(p.id, m.id) for p in PROVIDERS for m in p.auth_methods if m.ambient}
    assert ambient == {
        ("bedrock", "default_chain"),
        ("bedrock", "assume_role"),
        ("vertex_ai", "adc"),
        ("openai", "managed_identity"),
        ("databricks", "oauth_m2m"),
    }
    for provider in PROVIDERS:
        for method in provider.auth_methods:
            if method.ambient:
                assert "KEYHOUSE_ALLOW_AMBIENT_CREDENTIALS=true" in method.notice


def test_cli_lists_keyless_methods_with_their_notice_and_creates_one(tmp_path: Path) -> None:
    from tests.api.conftest import make_runner

    settings = keyless_settings(tmp_path, ambient=True)
    services = bootstrap(settings, migrate=True)
    with serve(create_app(settings, services)) as server:
        run = make_runner(server.url)
        listed = run("keys", "providers", "bedrock")
        assert listed.exit_code == 0, listed.output
        assert "assume_role" in listed.output and "default_chain" in listed.output
        assert "KEYHOUSE_ALLOW_AMBIENT_CREDENTIALS=true" in listed.output
        made = run(
            "keys",
            "create",
            "chain",
            "-p",
            "bedrock",
            "-m",
            "default_chain",
            "-c",
            "region=us-east-1",
        )
        assert made.exit_code == 0, made.output
        assert "bedrock/default_chain" in made.output
    services.store.dispose()
