"""NUL and unpaired surrogates in every text input of the admin API -> 422, nothing
changed, on SQLite and PostgreSQL. The fields come from the OpenAPI schema, so a new
string field, path or query parameter is covered the day it is added."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from sqlalchemy import func, select

from keyhouse.services import Services
from keyhouse.store.models import AuditEventRow, ConfigStateRow
from tests.api.conftest import CheckedClient, openai_key

BAD = {"nul": "a\x00b", "lone_surrogate": "a\ud800b", "low_surrogate": "\udc00"}
JSON = dict[str, Any]


def _resolve(schema: JSON, node: JSON) -> JSON:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    for branch in node.get("anyOf", []):
        if branch.get("type") != "null":
            return _resolve(schema, branch)
    return node


def _string_paths(schema: JSON, node: JSON, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Where a string can go in a body: ("name",), ("credentials", "{value}"), ..."""
    node = _resolve(schema, node)
    kind = node.get("type")
    if kind == "string" and "enum" not in node:
        return [prefix]
    out: list[tuple[Any, ...]] = []
    if kind == "object":
        for name, prop in node.get("properties", {}).items():
            out += _string_paths(schema, prop, (*prefix, name))
        extra = node.get("additionalProperties")
        if isinstance(extra, dict):
            out.append((*prefix, "{key}"))
            out += _string_paths(schema, extra, (*prefix, "{value}"))
    if kind == "array":
        out += _string_paths(schema, node["items"], (*prefix, 0))
    return out


def _inject(body: JSON, path: tuple[Any, ...], bad: str) -> JSON:
    out = copy.deepcopy(body)
    node: Any = out
    for part in path[:-1]:
        node = next(iter(node.values())) if part == "{value}" else node[part]
    last = path[-1]
    if last == "{key}":
        node[bad] = next(iter(node.values()))
    elif last == "{value}":
        node[next(iter(node))] = bad
    else:
        node[last] = bad
    return out


def _state(services: Services) -> tuple[int, int]:
    with services.store.read() as session:
        return (
            int(session.scalar(select(ConfigStateRow.version)) or 0),
            int(session.scalar(select(func.count()).select_from(AuditEventRow)) or 0),
        )


@pytest.fixture
def world(client: CheckedClient) -> dict[str, str]:
    key = client.post("/api/v1/keys", json=openai_key(base_url="https://a.example.com/v1"))
    ep = client.post(
        "/api/v1/endpoints",
        json={"name": "chat", "targets": [{"key_id": key.json()["id"], "model": "gpt-4o"}]},
    )
    token = client.post("/api/v1/access-tokens", json={"name": "app"})
    return {
        "key_id": key.json()["id"],
        "endpoint_id": ep.json()["id"],
        "token_id": token.json()["id"],
    }


def _bodies(world: dict[str, str]) -> dict[tuple[str, str], JSON]:
    target = {"key_id": world["key_id"], "model": "gpt-4o"}
    return {
        ("post", "/api/v1/keys"): {
            **openai_key("k2", base_url="https://b.example.com/v1"),
            "description": "d",
            "auth_method": "api_key",
        },
        ("patch", "/api/v1/keys/{key_id}"): {
            "name": "k3",
            "description": "d",
            "credentials": {"api_key": "sk-" + "c" * 30},
            "config": {"base_url": "https://c.example.com/v1"},
        },
        ("post", "/api/v1/keys/{key_id}/verify"): {
            "credentials": {"api_key": "sk-" + "d" * 30},
            "config": {"base_url": "https://d.example.com/v1"},
        },
        ("post", "/api/v1/endpoints"): {
            "name": "e2",
            "description": "d",
            "targets": [target],
            "aliases": ["e2-alias"],
        },
        ("patch", "/api/v1/endpoints/{endpoint_id}"): {
            "name": "e3",
            "description": "d",
            "targets": [target],
            "aliases": ["e3-alias"],
        },
        ("post", "/api/v1/access-tokens"): {"name": "t2", "endpoints": ["chat"]},
        ("patch", "/api/v1/access-tokens/{token_id}"): {"name": "t3", "endpoints": ["chat"]},
        ("post", "/api/v1/session"): {"token": "kh_admin_x"},
    }


def test_every_text_input_refuses_nul_and_lone_surrogates(
    client: CheckedClient, services: Services, world: dict[str, str]
) -> None:
    schema = client.app.openapi()  # type: ignore[attr-defined]
    bodies = _bodies(world)
    tried: list[str] = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            url = path.format(**world)
            params = [
                p
                for p in op.get("parameters", [])
                if _resolve(schema, p["schema"]).get("type") == "string"
            ]
            for param in params:
                # A URL carries no surrogate: servers decode bad UTF-8 to U+FFFD.
                for why, bad in {"nul": BAD["nul"]}.items():
                    before = _state(services)
                    if param["in"] == "path":
                        r = client.request(
                            method,
                            path.format(**{**world, param["name"]: bad.replace("\x00", "%00")}),
                            json=bodies.get((method, path)),
                        )
                    elif param["in"] == "query":
                        r = client.request(method, url, params={param["name"]: bad})
                    else:
                        continue  # headers cannot carry either character
                    assert r.status_code == 422, (method, path, param["name"], why, r.text)
                    assert _state(services) == before
                    tried.append(f"{method} {path} {param['name']}")
            content = op.get("requestBody", {}).get("content", {}).get("application/json")
            if not content:
                continue
            strings = _string_paths(schema, content["schema"])
            if strings:
                assert (method, path) in bodies, f"give {method} {path} a valid body here"
            for where in strings:
                for why, bad in BAD.items():
                    before = _state(services)
                    # json.dumps escapes the surrogate as \ud800, as a hostile client would.
                    r = client.request(
                        method,
                        url,
                        headers={"content-type": "application/json"},
                        content=json.dumps(_inject(bodies[(method, path)], where, bad)),
                    )
                    assert r.status_code == 422, (method, path, where, why, r.text)
                    assert _state(services) == before
                    tried.append(f"{method} {path} {where}")
    # Not vacuous: the body fields of keys, endpoints, tokens and sessions were all tried.
    assert len(set(tried)) >= 20, sorted(set(tried))
