"""One validation everywhere: the server judges every URL, the CLI sends what it is given
and shows the server's answer, and a private-address refusal says (once) which setting
lifts it and why it is off by default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keyhouse.providers import catalog
from keyhouse.settings import Settings
from keyhouse.shared.urlpolicy import PRIVATE_HINT
from tests.api.conftest import CheckedClient, Run
from tests.conftest import ADMIN_TOKEN

URL_FIELDS = [
    (p.id, m.id, f.name)
    for p in catalog.PROVIDERS
    for m in p.auth_methods
    for f in m.config_fields
    if f.kind == "url"
]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """The default an operator gets: private upstreams refused."""
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        kek_file=tmp_path / "kek.key",
        admin_token=ADMIN_TOKEN,
        allow_private_upstreams=False,
        # Keyless methods are enumerated too; their own gate is not what this tests.
        allow_ambient_credentials=True,
    )


def _body(provider: str, method: str, field: str, value: str) -> dict[str, Any]:
    return {
        "name": "k",
        "provider": provider,
        "auth_method": method,
        "credentials": {},
        "config": {field: value},
    }


def _field_errors(response: Any) -> dict[str, str]:
    return {f["field"]: f["message"] for f in response.json()["error"].get("fields", [])}


@pytest.mark.parametrize(("provider", "method", "field"), URL_FIELDS)
def test_every_url_field_refuses_a_value_without_a_scheme(
    client: CheckedClient, provider: str, method: str, field: str
) -> None:
    r = client.post("/api/v1/keys", json=_body(provider, method, field, "notaurl"))
    assert r.status_code == 422, r.text
    assert "https://" in _field_errors(r)[f"config.{field}"]
    assert client.get("/api/v1/keys").json()["keys"] == []


@pytest.mark.parametrize(("provider", "method", "field"), URL_FIELDS)
@pytest.mark.parametrize("url", ["http://localhost:11434/v1", "http://10.1.2.3/v1"])
def test_every_url_field_explains_a_private_refusal_once(
    client: CheckedClient, provider: str, method: str, field: str, url: str
) -> None:
    r = client.post("/api/v1/keys", json=_body(provider, method, field, url))
    assert r.status_code == 422, r.text
    message = _field_errors(r)[f"config.{field}"]
    assert message.count("KEYHOUSE_ALLOW_PRIVATE_UPSTREAMS=true") == 1
    assert PRIVATE_HINT in message


def test_a_metadata_address_gets_no_hint(client: CheckedClient) -> None:
    """The setting does not lift it, so naming the setting would mislead."""
    r = client.post(
        "/api/v1/keys",
        json=_body("openai_compatible", "api_key", "base_url", "http://169.254.169.254/v1"),
    )
    assert r.status_code == 422
    message = _field_errors(r)["config.base_url"]
    assert "metadata" in message and "KEYHOUSE_ALLOW_PRIVATE_UPSTREAMS" not in message


def test_the_cli_sends_urls_as_given_and_shows_the_servers_error(run: Run) -> None:
    result = run(
        "keys",
        "create",
        "k",
        "--provider",
        "openai_compatible",
        "--config",
        "base_url=notaurl",
        "--stdin",
        input="sk-x\n",
    )
    assert result.exit_code == 1, result.output
    assert "config.base_url" in result.stderr and "https://" in result.stderr
    assert "https://notaurl" not in result.output
    assert run("keys", "list", "--json").stdout.strip() in ("[]", '{"keys": []}')


def test_the_cli_shows_the_ollama_hint_once(run: Run) -> None:
    result = run(
        "keys",
        "create",
        "local",
        "--provider",
        "ollama",
        "--config",
        "base_url=http://localhost:11434/v1",
    )
    assert result.exit_code == 1, result.output
    assert result.stderr.count("KEYHOUSE_ALLOW_PRIVATE_UPSTREAMS=true") == 1, result.stderr
    assert "off by default" in result.stderr


def test_ollamas_default_url_field_carries_the_hint(client: CheckedClient) -> None:
    providers = client.get("/api/v1/providers").json()["providers"]
    (ollama,) = [p for p in providers if p["id"] == "ollama"]
    (base_url,) = ollama["auth_methods"][0]["config_fields"]
    assert "KEYHOUSE_ALLOW_PRIVATE_UPSTREAMS=true" in base_url["help"]


def test_a_taken_name_is_an_error_on_the_name_field(client: CheckedClient) -> None:
    body = {"name": "k", "provider": "openai", "credentials": {"api_key": "sk-x" * 5}}
    assert client.post("/api/v1/keys", json=body).status_code == 201
    again = client.post("/api/v1/keys", json=body)
    assert again.status_code == 409
    assert _field_errors(again) == {"name": "An API key named 'k' already exists."}
    key_id = client.get("/api/v1/keys").json()["keys"][0]["id"]
    endpoint = {"name": "chat", "targets": [{"key_id": key_id, "model": "gpt-4o-mini"}]}
    assert client.post("/api/v1/endpoints", json=endpoint).status_code == 201
    again = client.post("/api/v1/endpoints", json=endpoint)
    assert again.status_code == 409
    assert list(_field_errors(again)) == ["name"]


@pytest.mark.parametrize(
    "args",
    [
        ("keys", "create", "k", "--provider", "openai_compatible", "--config", "base_url=x"),
        ("keys", "create", "k", "--provider", "ollama", "--config", "base_url=http://[::1]/v1"),
        ("keys", "create", "taken", "--provider", "openai"),
    ],
)
def test_the_cli_says_each_server_error_once(run: Run, args: tuple[str, ...]) -> None:
    assert run("keys", "create", "taken", "-p", "openai", "--stdin", input="sk-1\n").exit_code == 0
    result = run(*args, "--stdin", input="sk-2\n") if "ollama" not in args else run(*args)
    assert result.exit_code == 1, result.output
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    problems = [line.split(": ", 2)[-1] for line in lines]
    assert len(problems) == len(set(problems)), result.stderr
