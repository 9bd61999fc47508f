"""An in-process Keyhouse app per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx2
import pytest
from click.testing import CliRunner, Result
from starlette.testclient import TestClient

from keyhouse.app import create_app
from keyhouse.cli import main
from keyhouse.services import Services, bootstrap
from keyhouse.settings import Settings
from keyhouse.testing.fakes.server import serve
from tests.conftest import ADMIN_TOKEN, CANARY, CANARY_USES

Run = Callable[..., Result]


class CheckedClient(TestClient):
    """Fails the test the moment any response carries the canary secret."""

    def request(self, *args: Any, **kwargs: Any) -> httpx2.Response:  # type: ignore[override]
        if CANARY in repr(kwargs.get("json")) or CANARY in repr(kwargs.get("content")):
            CANARY_USES[0] += 1
        response = super().request(*args, **kwargs)
        assert CANARY not in response.text, "a response leaked the canary secret"
        assert CANARY[-12:] not in response.text, "a response leaked part of the canary"
        return response


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        kek_file=tmp_path / "kek.key",
        admin_token=ADMIN_TOKEN,
        # Tests enumerate every auth method, the keyless ones too; the consent
        # gate itself is tested with the setting off (tests/cloud).
        allow_private_upstreams=True,
        allow_ambient_credentials=True,
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    services = bootstrap(settings, migrate=True)
    yield services
    services.store.dispose()


@pytest.fixture
def client(settings: Settings, services: Services) -> Iterator[CheckedClient]:
    app = create_app(settings, services)
    with CheckedClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as c:
        yield c


def openai_key(name: str = "openai-main", secret: str = CANARY, **config: str) -> dict[str, Any]:
    return {
        "name": name,
        "provider": "openai",
        "credentials": {"api_key": secret},
        "config": config,
    }


def azure_key(name: str = "azure-main", secret: str = CANARY) -> dict[str, Any]:
    return {
        "name": name,
        "provider": "openai",
        "auth_method": "azure",
        "credentials": {"api_key": secret},
        "config": {
            "endpoint_url": "https://my-resource.openai.azure.com",
            "api_version": "2024-10-21",
        },
    }


def bedrock_key(name: str = "bedrock-main") -> dict[str, Any]:
    return {
        "name": name,
        "provider": "bedrock",
        "auth_method": "access_keys",
        "credentials": {
            "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "aws_secret_access_key": CANARY,
        },
        "config": {"region": "us-east-1"},
    }


@pytest.fixture
def server_url(settings: Settings, services: Services) -> Iterator[str]:
    with serve(create_app(settings, services)) as server:
        yield server.url


def make_runner(url: str) -> Run:
    runner = CliRunner()

    def invoke(
        *args: str, input: str | None = None, env: Mapping[str, str | None] | None = None
    ) -> Result:
        full_env = {"KEYHOUSE_URL": url, "KEYHOUSE_ADMIN_TOKEN": ADMIN_TOKEN, **(env or {})}
        result = runner.invoke(main, list(args), input=input, env=full_env, catch_exceptions=False)
        for text in (result.output, result.stdout, result.stderr):
            assert CANARY not in text, f"the secret leaked from {args}"
            assert CANARY[-12:] not in text, f"part of the secret leaked from {args}"
        return result

    return invoke


@pytest.fixture
def run(server_url: str) -> Run:
    return make_runner(server_url)
