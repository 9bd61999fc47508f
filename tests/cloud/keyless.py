"""Every keyless (ambient) auth method of the catalog, working end to end against its
identity fake and its provider fake on 127.0.0.1 — so a test can enumerate the class
from the catalog instead of naming examples. A method the catalog marks ambient without a
builder here fails the tests that enumerate it, by design."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from keyhouse.providers.catalog import PROVIDERS
from keyhouse.settings import Settings
from keyhouse.testing.fakes import azure_identity, google_cloud
from keyhouse.testing.fakes.aws import Aws
from keyhouse.testing.fakes.bedrock import create_app as bedrock_fake
from keyhouse.testing.fakes.gemini import create_app as gemini_fake
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import ServerThread, serve
from tests.cloud.conftest import apply_env, gce_env
from tests.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
AMBIENT = [(p.id, m.id) for p in PROVIDERS for m in p.auth_methods if m.ambient]
AMBIENT_IDS = [f"{p}/{m}" for p, m in AMBIENT]
DATABRICKS_SECRET = "dose" + "D" * 32
BEDROCK_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


@dataclass
class Keyless:
    provider: str
    method: str
    credentials: dict[str, str]
    config: dict[str, str]
    model: str
    servers: list[ServerThread]  # every fake a call of this key may reach
    # The environment or config that sends the token fetch to ``url`` instead.
    token_at: Callable[[str], tuple[dict[str, str], dict[str, str]]]
    aws: Aws | None = None
    env: dict[str, str] = field(default_factory=dict)

    def reached(self) -> int:
        """Requests the fakes have seen (moto's STS: the role sessions it issued)."""
        seen = sum(len(s.app.state.calls) for s in self.servers)
        if self.aws is not None:
            from moto.sts.models import sts_backends

            seen += sum(len(b.assumed_roles) for b in sts_backends["123456789012"].values())
        return seen


def settings(tmp_path: Path, *, ambient: bool, private: bool = True, **extra: Any) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=f"sqlite:///{tmp_path}/kh.db",
        kek_file=tmp_path / "kek.key",
        admin_token=ADMIN_TOKEN,
        allow_private_upstreams=private,
        allow_ambient_credentials=ambient,
        **extra,
    )


def add_key(base: str, case: Keyless, name: str = "keyless", timeout: float = 60.0) -> str:
    """A key, an endpoint on it and an access token; returns the token."""
    with httpx.Client(base_url=base, headers=ADMIN, timeout=30) as c:
        r = c.post(
            "/api/v1/keys",
            json={
                "name": name,
                "provider": case.provider,
                "auth_method": case.method,
                "credentials": case.credentials,
                "config": case.config,
            },
        )
        assert r.status_code == 201, r.text
        r = c.post(
            "/api/v1/endpoints",
            json={
                "name": name,
                "timeout_seconds": timeout,
                "targets": [{"key_id": r.json()["id"], "model": case.model}],
            },
        )
        assert r.status_code == 201, r.text
        token: str = c.post("/api/v1/access-tokens", json={"name": name}).json()["token"]
    return token


def chat(base: str, token: str, name: str = "keyless", **body: Any) -> httpx.Response:
    return httpx.post(
        f"{base}/v1/chat/completions",
        timeout=60,
        headers={"Authorization": f"Bearer {token}"},
        json={"model": name, "messages": [{"role": "user", "content": "hello"}], **body},
    )


def point_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Set ``env``; an empty value unsets the variable's effect (botocore, for one, skips
    an empty AWS_ACCESS_KEY_ID)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if "GCE_METADATA_HOST" in env:
        apply_env(monkeypatch, {k: v for k, v in env.items() if k.startswith("GCE_")})


@contextmanager
def keyless_case(
    key: tuple[str, str],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[Keyless]:
    builder = BUILDERS.get(key)
    assert builder is not None, f"no working fake set-up for the ambient method {key}"
    with ExitStack() as stack:
        case = builder(stack, request, tmp_path)
        apply_env(monkeypatch, case.env)
        yield case


def _bedrock(method: str, stack: ExitStack, request: pytest.FixtureRequest, tmp: Path) -> Keyless:
    aws: Aws = request.getfixturevalue("aws_server")
    from keyhouse.testing.fakes.aws import assumed_credentials

    bedrock = stack.enter_context(
        serve(
            bedrock_fake(
                access_key_id=aws.access_key_id,
                secret_access_key=aws.secret_access_key,
                sessions=assumed_credentials,
            )
        )
    )
    credentials = {}
    if method == "assume_role":
        credentials = {"role_arn": aws.role_arn, "external_id": aws.external_id}

    def token_at(url: str) -> tuple[dict[str, str], dict[str, str]]:
        if method == "assume_role":
            return {"AWS_ENDPOINT_URL_STS": url}, {}
        # The chain's container provider (ECS, EKS Pod Identity), with nothing before it.
        return {
            "AWS_ACCESS_KEY_ID": "",
            "AWS_SECRET_ACCESS_KEY": "",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": f"{url}/creds",
        }, {}

    return Keyless(
        "bedrock",
        method,
        credentials,
        {"region": "us-east-1", "base_url": bedrock.url},
        BEDROCK_MODEL,
        [bedrock],
        token_at,
        aws=aws,
        env=aws.env(),
    )


def _adc(stack: ExitStack, request: pytest.FixtureRequest, tmp: Path) -> Keyless:
    vertex = gemini_fake()
    metadata = stack.enter_context(
        serve(google_cloud.create_metadata_app(publish=[vertex.state.tokens]))
    )
    provider = stack.enter_context(serve(vertex))

    def token_at(url: str) -> tuple[dict[str, str], dict[str, str]]:
        host = url.removeprefix("http://")
        return {"GCE_METADATA_HOST": host, "GCE_METADATA_IP": host}, {}

    return Keyless(
        "vertex_ai",
        "adc",
        {},
        {"project_id": "keyhouse-test", "base_url": provider.url},
        "gemini-2.0-flash",
        [metadata, provider],
        token_at,
        env=gce_env(metadata.url, tmp),
    )


def _managed_identity(stack: ExitStack, request: pytest.FixtureRequest, tmp: Path) -> Keyless:
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
    return Keyless(
        "openai",
        "managed_identity",
        {"client_id": "uai-keyhouse"},
        {"endpoint_url": provider.url, "api_version": "2024-10-21"},
        "gpt-4o-mini",
        [imds, provider],
        lambda url: ({"AZURE_POD_IDENTITY_AUTHORITY_HOST": url}, {}),
        env={"AZURE_POD_IDENTITY_AUTHORITY_HOST": imds.url},
    )


def _oauth_m2m(stack: ExitStack, request: pytest.FixtureRequest, tmp: Path) -> Keyless:
    provider = stack.enter_context(
        serve(openai_fake(databricks_client=("sp-keyhouse", DATABRICKS_SECRET)))
    )
    return Keyless(
        "databricks",
        "oauth_m2m",
        {"client_secret": DATABRICKS_SECRET},
        {"host": provider.url, "client_id": "sp-keyhouse"},
        "databricks-meta-llama-3-3-70b-instruct",
        [provider],
        lambda url: ({}, {"host": url}),  # the token endpoint is on the workspace URL
    )


Builder = Callable[[ExitStack, pytest.FixtureRequest, Path], Keyless]
BUILDERS: dict[tuple[str, str], Builder] = {
    ("bedrock", "default_chain"): lambda s, r, t: _bedrock("default_chain", s, r, t),
    ("bedrock", "assume_role"): lambda s, r, t: _bedrock("assume_role", s, r, t),
    ("vertex_ai", "adc"): _adc,
    ("openai", "managed_identity"): _managed_identity,
    ("databricks", "oauth_m2m"): _oauth_m2m,
}


class Blackhole:
    """A TCP listener that accepts every connection and never answers a byte."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._held.append(conn)

    def close(self) -> None:
        self._sock.close()
        for conn in self._held:
            conn.close()


@contextmanager
def blackhole() -> Iterator[Blackhole]:
    hole = Blackhole()
    try:
        yield hole
    finally:
        hole.close()
