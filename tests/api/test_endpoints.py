"""The endpoints API (admin side)."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import CheckedClient, openai_key


def _key(
    client: CheckedClient, name: str = "openai-main", body: dict[str, Any] | None = None
) -> str:
    r = client.post("/api/v1/keys", json=body or openai_key(name))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_create_list_get_patch_delete(client: CheckedClient) -> None:
    k1, k2 = _key(client, "k1"), _key(client, "k2")
    r = client.post(
        "/api/v1/endpoints",
        json={
            "name": "chat",
            "description": "main chat",
            "targets": [
                {"key_id": k1, "model": "gpt-4o", "weight": 3},
                {"key_id": k2, "model": "gpt-4o-mini", "role": "fallback"},
            ],
            "timeout_seconds": 30,
            "max_retries": 2,
        },
    )
    assert r.status_code == 201, r.text
    ep = r.json()
    assert ep["task"] == "chat" and ep["version"] == 1
    assert [(t["key_name"], t["model"], t["weight"], t["role"]) for t in ep["targets"]] == [
        ("k1", "gpt-4o", 3, "primary"),
        ("k2", "gpt-4o-mini", 1, "fallback"),
    ]
    assert client.get(f"/api/v1/endpoints/{ep['id']}").json() == ep
    assert [e["name"] for e in client.get("/api/v1/endpoints").json()["endpoints"]] == ["chat"]

    r = client.patch(
        f"/api/v1/endpoints/{ep['id']}",
        headers={"If-Match": "1"},
        json={"targets": [{"key_id": k2, "model": "gpt-4.1"}], "name": "chat2"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "chat2" and r.json()["version"] == 2
    assert [t["key_name"] for t in r.json()["targets"]] == ["k2"]
    assert (
        client.patch(
            f"/api/v1/endpoints/{ep['id']}", headers={"If-Match": "1"}, json={"description": "x"}
        ).status_code
        == 412
    )
    # The key view follows the endpoint's targets.
    assert client.get(f"/api/v1/keys/{k1}").json()["endpoints"] == []
    assert [e["name"] for e in client.get(f"/api/v1/keys/{k2}").json()["endpoints"]] == ["chat2"]

    assert client.delete(f"/api/v1/endpoints/{ep['id']}").status_code == 204
    assert client.get(f"/api/v1/endpoints/{ep['id']}").status_code == 404
    assert client.get(f"/api/v1/keys/{k2}").json()["endpoints"] == []


def test_target_key_must_exist_and_serve_the_task(client: CheckedClient) -> None:
    anthropic = _key(
        client,
        body={
            "name": "claude",
            "provider": "anthropic",
            "credentials": {"api_key": "sk-ant-" + "a" * 40},
        },
    )
    r = client.post(
        "/api/v1/endpoints",
        json={
            "name": "emb",
            "task": "embeddings",
            "targets": [{"key_id": anthropic, "model": "x"}],
        },
    )
    assert r.status_code == 422
    assert r.json()["error"]["fields"][0]["field"] == "targets.0.key_id"
    r = client.post(
        "/api/v1/endpoints", json={"name": "chat", "targets": [{"key_id": "missing", "model": "x"}]}
    )
    assert r.status_code == 422
    assert "no API key" in r.json()["error"]["message"]
    assert client.get("/api/v1/endpoints").json()["endpoints"] == []


def test_bad_endpoint_input_is_rejected(client: CheckedClient) -> None:
    k = _key(client)
    bad = [
        {"name": "x", "targets": []},
        {"name": "x", "targets": [{"key_id": k, "model": "m", "role": "fallback"}]},
        {"name": "x", "targets": [{"key_id": k, "model": ""}]},
        {"name": "x", "targets": [{"key_id": k, "model": "m", "weight": 0}]},
        {"name": "x", "targets": [{"key_id": k, "model": "m"}], "task": "images"},
        {"name": "bad name", "targets": [{"key_id": k, "model": "m"}]},
        {"name": "x", "targets": [{"key_id": k, "model": "m"}], "timeout_seconds": 0},
        {"name": "x", "targets": [{"key_id": k, "model": "m", "extra": 1}]},
        {"name": "x", "targets": [{"key_id": k, "model": "m"}] * 11},
    ]
    for body in bad:
        r = client.post("/api/v1/endpoints", json=body)
        assert r.status_code == 422, body
    assert client.get("/api/v1/endpoints").json()["endpoints"] == []


def test_duplicate_endpoint_name_is_409(client: CheckedClient) -> None:
    k = _key(client)
    body = {"name": "chat", "targets": [{"key_id": k, "model": "m"}]}
    assert client.post("/api/v1/endpoints", json=body).status_code == 201
    r = client.post("/api/v1/endpoints", json=body)
    assert r.status_code == 409 and r.json()["error"]["code"] == "already_exists"


def test_access_tokens_are_shown_once_and_stored_hashed(client: CheckedClient, services) -> None:
    k = _key(client)
    client.post(
        "/api/v1/endpoints", json={"name": "chat", "targets": [{"key_id": k, "model": "m"}]}
    )
    r = client.post("/api/v1/access-tokens", json={"name": "app", "endpoints": ["chat"]})
    assert r.status_code == 201
    token = r.json()["token"]
    assert token.startswith("kh_") and len(token) >= 40
    listed = client.get("/api/v1/access-tokens").json()["access_tokens"]
    assert listed[0]["name"] == "app" and "token" not in listed[0]
    assert token not in client.get("/api/v1/audit").text
    principal = services.registry.authenticate(token)
    assert principal is not None and principal.endpoints == frozenset({"chat"})
    assert (
        client.post("/api/v1/access-tokens", json={"name": "x", "endpoints": ["nope"]}).status_code
        == 422
    )
    assert client.delete(f"/api/v1/access-tokens/{listed[0]['id']}").status_code == 204
    assert services.registry.authenticate(token) is None


def test_providers_catalog_is_complete(client: CheckedClient) -> None:
    providers = {p["id"]: p for p in client.get("/api/v1/providers").json()["providers"]}
    for pid in (
        "openai",
        "anthropic",
        "gemini",
        "vertex_ai",
        "bedrock",
        "databricks",
        "ollama",
        "openai_compatible",
        "mistral",
        "groq",
        "deepseek",
        "xai",
        "together",
        "fireworks",
        "openrouter",
        "perplexity",
        "cerebras",
        "cohere",
        "nvidia_nim",
        "deepinfra",
        "sambanova",
    ):
        assert pid in providers, pid
    methods = {m["id"]: m for m in providers["openai"]["auth_methods"]}
    assert set(methods) == {"api_key", "azure", "azure_entra_id", "managed_identity"}
    azure_config = {f["name"]: f["required"] for f in methods["azure"]["config_fields"]}
    assert azure_config["endpoint_url"] and azure_config["api_version"]
    entra = methods["azure_entra_id"]
    assert [f["name"] for f in entra["secret_fields"]] == ["client_secret"]
    assert {"tenant_id", "client_id", "endpoint_url", "api_version"} <= {
        f["name"] for f in entra["config_fields"] if f["required"]
    }
    vertex = providers["vertex_ai"]["auth_methods"][0]
    assert vertex["secret_fields"][0]["name"] == "service_account_json"
    assert {f["name"] for f in vertex["config_fields"]} >= {"project_id", "location"}
    bedrock = {m["id"]: m for m in providers["bedrock"]["auth_methods"]}
    assert [f["name"] for f in bedrock["access_keys"]["secret_fields"]] == [
        "aws_access_key_id",
        "aws_secret_access_key",
        "aws_session_token",
    ]
    assert bedrock["access_keys"]["config_fields"][0] == {
        "name": "region",
        "label": "Region",
        "required": True,
        "secret": False,
        "kind": "text",
        "placeholder": "us-east-1",
        "help": "",
        "default": None,
    }
    assert all(
        f["secret"]
        for p in providers.values()
        for m in p["auth_methods"]
        for f in m["secret_fields"]
    )
    # The keyless rows, as PROVIDERS.md lists them: (secret fields, required config).
    keyless = {
        (p["id"], m["id"]): m for p in providers.values() for m in p["auth_methods"] if m["ambient"]
    }
    expected = {
        ("bedrock", "default_chain"): ([], {"region"}),
        ("bedrock", "assume_role"): (
            [
                "role_arn*",
                "external_id",
                "session_name",
                "aws_access_key_id",
                "aws_secret_access_key",
            ],
            {"region"},
        ),
        ("vertex_ai", "adc"): ([], {"project_id"}),
        ("openai", "managed_identity"): (["client_id"], {"endpoint_url", "api_version"}),
        ("databricks", "oauth_m2m"): (["client_secret*"], {"host", "client_id"}),
    }
    assert set(keyless) == set(expected)
    for ident, (secret_fields, required) in expected.items():
        method = keyless[ident]
        assert [
            f["name"] + ("*" if f["required"] else "") for f in method["secret_fields"]
        ] == secret_fields
        assert {f["name"] for f in method["config_fields"] if f["required"]} == required
        assert "KEYHOUSE_ALLOW_AMBIENT_CREDENTIALS=true" in method["notice"]


def test_a_url_without_a_scheme_is_refused_on_its_field(client: CheckedClient) -> None:
    """No guessed https:// (issue 9): the API, the CLI and the UI accept the same text."""
    body = {
        "name": "dbx",
        "provider": "databricks",
        "credentials": {"token": "dapi" + "x" * 32},
        "config": {"host": "adb-123.azuredatabricks.net/"},
    }
    r = client.post("/api/v1/keys", json=body)
    assert r.status_code == 422, r.text
    assert [f["field"] for f in r.json()["error"]["fields"]] == ["config.host"]
    body["config"] = {"host": "https://adb-123.azuredatabricks.net/"}
    r = client.post("/api/v1/keys", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["config"]["host"] == "https://adb-123.azuredatabricks.net"
