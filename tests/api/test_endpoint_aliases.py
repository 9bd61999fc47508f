"""Endpoint aliases: other model names an endpoint answers to, unique across every
endpoint name and alias, resolved by the gateway and listed by /v1/models."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import ServerThread, serve
from tests.api.conftest import CheckedClient, Run, openai_key
from tests.api.test_cli import make_key
from tests.conftest import ADMIN_TOKEN, CANARY


@pytest.fixture
def upstream() -> Iterator[ServerThread]:
    with serve(openai_fake(api_key=CANARY)) as server:
        yield server


def _endpoint(
    client: CheckedClient | httpx.Client, key: str, name: str, aliases: list[str], status: int = 201
) -> Any:
    r = client.post(
        "/api/v1/endpoints",
        json={"name": name, "aliases": aliases, "targets": [{"key_id": key, "model": "gpt-4o"}]},
    )
    assert r.status_code == status, r.text
    return r.json()


def _key(client: CheckedClient | httpx.Client, upstream: ServerThread) -> str:
    r = client.post("/api/v1/keys", json=openai_key(base_url=f"{upstream.url}/v1"))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def test_aliases_are_kept_in_order_and_replaced_by_patch(
    client: CheckedClient, upstream: ServerThread
) -> None:
    key = _key(client, upstream)
    ep = _endpoint(client, key, "claude", ["claude-sonnet-4-5", "claude-3-5-haiku-latest"])
    assert ep["aliases"] == ["claude-sonnet-4-5", "claude-3-5-haiku-latest"]
    assert client.get(f"/api/v1/endpoints/{ep['id']}").json()["aliases"] == ep["aliases"]
    r = client.patch(
        f"/api/v1/endpoints/{ep['id']}",
        json={"aliases": ["claude-3-5-haiku-latest", "openai/gpt-4.1", "llama3.2:latest"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["aliases"] == ["claude-3-5-haiku-latest", "openai/gpt-4.1", "llama3.2:latest"]
    assert r.json()["version"] == 2
    # A patch without aliases keeps them.
    r = client.patch(f"/api/v1/endpoints/{ep['id']}", json={"description": "d"})
    assert r.json()["aliases"] == ["claude-3-5-haiku-latest", "openai/gpt-4.1", "llama3.2:latest"]
    assert (
        client.patch(f"/api/v1/endpoints/{ep['id']}", json={"aliases": []}).json()["aliases"] == []
    )


def test_names_and_aliases_are_unique_across_endpoints(
    client: CheckedClient, upstream: ServerThread
) -> None:
    key = _key(client, upstream)
    first = _endpoint(client, key, "first", ["sonnet", "gpt-5-codex"])
    second = _endpoint(client, key, "second", [])
    clashes = [
        ("third", ["sonnet"], "already belongs to the endpoint 'first'"),
        ("third", ["first"], "is the name of another endpoint"),
        ("sonnet", [], "already an alias of the endpoint 'first'"),
    ]
    for name, aliases, message in clashes:
        r = client.post(
            "/api/v1/endpoints",
            json={"name": name, "aliases": aliases, "targets": [{"key_id": key, "model": "m"}]},
        )
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "already_exists"
        assert message in r.json()["error"]["message"]
    for change in ({"aliases": ["gpt-5-codex"]}, {"name": "gpt-5-codex"}, {"aliases": ["first"]}):
        r = client.patch(f"/api/v1/endpoints/{second['id']}", json=change)
        assert r.status_code == 409, (change, r.text)
    for aliases, field in (
        (["same", "same"], "aliases.1"),
        (["third"], "aliases.0"),
        (["bad alias"], "aliases.0"),
        (["-x"], "aliases.0"),
        (["x" * 129], "aliases.0"),
    ):
        r = client.post(
            "/api/v1/endpoints",
            json={"name": "third", "aliases": aliases, "targets": [{"key_id": key, "model": "m"}]},
        )
        assert r.status_code == 422, (aliases, r.text)
        assert r.json()["error"]["fields"][0]["field"] == field
    # Nothing changed on the way.
    views = {e["name"]: e for e in client.get("/api/v1/endpoints").json()["endpoints"]}
    assert set(views) == {"first", "second"}
    assert views["first"]["aliases"] == ["sonnet", "gpt-5-codex"]
    assert views["second"]["aliases"] == [] and views["second"]["version"] == 1
    # Deleting an endpoint frees its aliases; an endpoint may keep its own on rename.
    assert (
        client.patch(f"/api/v1/endpoints/{first['id']}", json={"name": "first-renamed"}).status_code
        == 200
    )
    assert client.delete(f"/api/v1/endpoints/{first['id']}").status_code == 204
    _endpoint(client, key, "sonnet", ["gpt-5-codex"])


def test_the_gateway_answers_to_aliases(upstream: ServerThread, server_url: str) -> None:
    client = httpx.Client(
        base_url=server_url, timeout=30, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    key = _key(client, upstream)
    _endpoint(client, key, "chat", ["gpt-5-codex", "claude-sonnet-4-5"])
    sdk = openai.OpenAI(base_url=f"{server_url}/v1", api_key=ADMIN_TOKEN, max_retries=0)
    listed = [m.id for m in sdk.models.list()]
    assert listed == ["chat", "gpt-5-codex", "claude-sonnet-4-5"]
    assert sdk.models.retrieve("gpt-5-codex").id == "gpt-5-codex"
    reply = sdk.chat.completions.create(
        model="gpt-5-codex", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content == "echo: hi"
    answer = sdk.responses.create(model="claude-sonnet-4-5", input="hi")
    assert answer.output_text == "echo: hi" and answer.model == "claude-sonnet-4-5"
    # A token limited to the endpoint may call it under any of its names.
    token = client.post("/api/v1/access-tokens", json={"name": "t", "endpoints": ["chat"]}).json()[
        "token"
    ]
    limited = openai.OpenAI(base_url=f"{server_url}/v1", api_key=token, max_retries=0)
    assert [m.id for m in limited.models.list()] == listed
    assert (
        limited.chat.completions.create(
            model="claude-sonnet-4-5", messages=[{"role": "user", "content": "yo"}]
        )
        .choices[0]
        .message.content
        == "echo: yo"
    )


def test_the_cli_sets_and_clears_aliases(run: Run) -> None:
    make_key(run, "main")
    created = run(
        "endpoints",
        "create",
        "chat",
        "-t",
        "main:gpt-4o",
        "--alias",
        "gpt-5-codex",
        "-a",
        "claude-sonnet-4-5",
    )
    assert created.exit_code == 0, created.output
    got = json.loads(run("endpoints", "get", "chat", "--json").stdout)
    assert got["aliases"] == ["gpt-5-codex", "claude-sonnet-4-5"]
    assert "gpt-5-codex, claude-sonnet-4-5" in run("endpoints", "list").stdout
    assert (
        "aliases:      gpt-5-codex" in run("endpoints", "get", "chat").stdout
        or "gpt-5-codex, claude-sonnet-4-5" in run("endpoints", "get", "chat").stdout
    )
    clash = run("endpoints", "create", "other", "-t", "main:gpt-4o", "--alias", "gpt-5-codex")
    assert clash.exit_code == 1 and "already belongs to the endpoint 'chat'" in clash.stderr
    assert run("endpoints", "update", "chat", "-a", "o3").exit_code == 0
    assert json.loads(run("endpoints", "get", "chat", "--json").stdout)["aliases"] == ["o3"]
    both = run("endpoints", "update", "chat", "-a", "x", "--no-aliases")
    assert both.exit_code == 2
    assert run("endpoints", "update", "chat", "--no-aliases").exit_code == 0
    assert json.loads(run("endpoints", "get", "chat", "--json").stdout)["aliases"] == []
