"""Access tokens: expiry, rotation with a grace period, edits — through the admin API
and the gateway of one in-process app (replicas: tests/api/test_limits_replicas.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import ServerThread, serve
from tests.api.conftest import CheckedClient

UPSTREAM_KEY = "sk-lim-" + "Q7x" * 10  # no word inside: live secrets are redacted from logs
CHAT = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def fake() -> Iterator[ServerThread]:
    with serve(openai_fake(api_key=UPSTREAM_KEY)) as server:
        yield server


@pytest.fixture
def endpoint(client: CheckedClient, fake: ServerThread) -> dict[str, Any]:
    key = client.post(
        "/api/v1/keys",
        json={
            "name": "k",
            "provider": "openai_compatible",
            "credentials": {"api_key": UPSTREAM_KEY},
            "config": {"base_url": fake.url + "/v1"},
        },
    ).json()
    r = client.post(
        "/api/v1/endpoints",
        json={"name": "chat", "targets": [{"key_id": key["id"], "model": "gpt-4o"}]},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _call(client: CheckedClient, token: str) -> int:
    return client.post(
        "/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {token}"}
    ).status_code


def _soon(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def test_token_expires_on_time(client: CheckedClient, endpoint: dict[str, Any]) -> None:
    created = client.post(
        "/api/v1/access-tokens", json={"name": "brief", "expires_at": _soon(1.5)}
    ).json()
    assert created["expires_at"] is not None
    assert _call(client, created["token"]) == 200
    time.sleep(1.6)
    r = client.post(
        "/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {created['token']}"}
    )
    assert r.status_code == 401
    assert r.json()["error"]["message"] == "The access token has expired."
    # The view still lists it (an operator can extend it) with its expiry.
    view = client.get(f"/api/v1/access-tokens/{created['id']}").json()
    assert view["expires_at"] == created["expires_at"]
    extended = client.patch(f"/api/v1/access-tokens/{created['id']}", json={"expires_at": None})
    assert extended.status_code == 200 and extended.json()["expires_at"] is None
    assert _call(client, created["token"]) == 200


@pytest.mark.parametrize(
    "body",
    [
        {"name": "t", "expires_at": "2000-01-01T00:00:00Z"},
        {"name": "t", "expires_at": "not a date"},
        {"name": "t", "limits": {"requests_per_minute": 0}},
        {"name": "t", "limits": {"tokens_per_minute": -5}},
        {"name": "t", "limits": {"max_concurrent": 1.5}},
        {"name": "t", "limits": {"budget": {"usd": 0}}},
        {"name": "t", "limits": {"budget": {"usd": 5, "period": "year"}}},
        {"name": "t", "limits": {"budget": {"usd": 5, "action": "shout"}}},
        {"name": "t", "limits": {"requests_per_hour": 5}},
    ],
)
def test_bad_lifecycle_input_is_refused_and_changes_nothing(
    client: CheckedClient, body: dict[str, Any]
) -> None:
    r = client.post("/api/v1/access-tokens", json=body)
    assert r.status_code == 422, r.text
    assert client.get("/api/v1/access-tokens").json()["access_tokens"] == []


def test_rotation_keeps_the_old_secret_for_the_grace_only(
    client: CheckedClient, endpoint: dict[str, Any]
) -> None:
    created = client.post("/api/v1/access-tokens", json={"name": "app"}).json()
    old = created["token"]
    rotated = client.post(
        f"/api/v1/access-tokens/{created['id']}/rotate", json={"grace_seconds": 2}
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["token"]
    assert new != old and rotated.json()["id"] == created["id"]
    assert rotated.json()["previous_valid_until"] is not None
    assert _call(client, old) == 200 and _call(client, new) == 200
    time.sleep(2.1)
    assert _call(client, old) == 401
    assert _call(client, new) == 200
    assert (
        client.get(f"/api/v1/access-tokens/{created['id']}").json()["previous_valid_until"] is None
    )
    # No grace: the old secret stops at once.
    again = client.post(f"/api/v1/access-tokens/{created['id']}/rotate").json()
    assert _call(client, new) == 401 and _call(client, again["token"]) == 200
    actions = [e["action"] for e in client.get("/api/v1/audit").json()["events"]]
    assert actions.count("access_token.rotate") == 2
    audit_text = str(client.get("/api/v1/audit").json())
    for secret in (old, new, again["token"]):
        assert secret not in audit_text


def test_rotate_bad_input(client: CheckedClient) -> None:
    created = client.post("/api/v1/access-tokens", json={"name": "app"}).json()
    for body in ({"grace_seconds": -1}, {"grace_seconds": 10**9}, {"grace": 5}):
        r = client.post(f"/api/v1/access-tokens/{created['id']}/rotate", json=body)
        assert r.status_code == 422, body
    assert client.post("/api/v1/access-tokens/nope/rotate").status_code == 404
    view = client.get(f"/api/v1/access-tokens/{created['id']}").json()
    assert view["rotated_at"] is None and view["prefix"] == created["prefix"]


def test_patch_changes_scope_and_limits(client: CheckedClient, endpoint: dict[str, Any]) -> None:
    created = client.post(
        "/api/v1/access-tokens",
        json={
            "name": "app",
            "limits": {"requests_per_minute": 60, "budget": {"usd": 50, "period": "month"}},
        },
    ).json()
    assert created["limits"] == {
        "requests_per_minute": 60,
        "tokens_per_minute": None,
        "max_concurrent": None,
        "budget": {"usd": 50.0, "period": "month", "action": "reject"},
    }
    r = client.patch(f"/api/v1/access-tokens/{created['id']}", json={"endpoints": ["nope"]})
    assert r.status_code == 422
    r = client.patch(
        f"/api/v1/access-tokens/{created['id']}", json={"endpoints": [], "limits": None}
    )
    assert r.status_code == 200 and r.json()["limits"] is None
    assert _call(client, created["token"]) == 403
    r = client.patch(f"/api/v1/access-tokens/{created['id']}", json={"endpoints": None})
    assert _call(client, created["token"]) == 200
    assert (
        client.patch(f"/api/v1/access-tokens/{created['id']}", json={"secret": "x"}).status_code
        == 422
    )
