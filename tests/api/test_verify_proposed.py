"""Save & test: ``POST /api/v1/keys/{id}/verify`` with a body tries the credential as the
proposed changes would make it, and saves nothing; a test never sends a stored secret
to a new address."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import ServerThread, serve
from tests.api.conftest import CheckedClient

GOOD = "sk-good-" + "g" * 32
BAD = "sk-bad-" + "b" * 32


@pytest.fixture
def fake() -> Iterator[ServerThread]:
    with serve(openai_fake(api_key=GOOD)) as server:
        yield server


def _key(client: CheckedClient, fake: ServerThread, secret: str, name: str = "k") -> dict[str, Any]:
    r = client.post(
        "/api/v1/keys",
        json={
            "name": name,
            "provider": "openai_compatible",
            "credentials": {"api_key": secret},
            "config": {"base_url": fake.url + "/v1"},
        },
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def test_a_proposed_credential_is_tested_and_not_saved(
    client: CheckedClient, fake: ServerThread
) -> None:
    key = _key(client, fake, GOOD)
    url = f"/api/v1/keys/{key['id']}/verify"
    rejected = client.post(url, json={"credentials": {"api_key": BAD}})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    after = client.get(f"/api/v1/keys/{key['id']}").json()
    assert after["credential_version"] == key["credential_version"]
    assert after["masked"] == key["masked"]
    assert client.post(url).json()["status"] == "ok"  # the stored one still works

    bad = _key(client, fake, BAD, name="k2")
    fixed = client.post(f"/api/v1/keys/{bad['id']}/verify", json={"credentials": {"api_key": GOOD}})
    assert fixed.json()["status"] == "ok"
    assert client.post(f"/api/v1/keys/{bad['id']}/verify").json()["status"] == "rejected"
    assert [call.headers.get("authorization") for call in fake.app.state.calls][-3:] == [
        f"Bearer {GOOD}",
        f"Bearer {GOOD}",
        f"Bearer {BAD}",
    ]


def test_a_test_with_changed_settings_needs_the_whole_credential(
    client: CheckedClient, fake: ServerThread
) -> None:
    key = _key(client, fake, GOOD)
    url = f"/api/v1/keys/{key['id']}/verify"
    with serve(openai_fake(api_key=GOOD)) as elsewhere:
        moved = {"base_url": elsewhere.url + "/v1"}
        r = client.post(url, json={"config": moved})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["fields"][0]["field"] == "credentials"
        assert elsewhere.app.state.calls == []  # the stored secret went nowhere
        r = client.post(url, json={"config": moved, "credentials": {"api_key": GOOD}})
        assert r.json()["status"] == "ok"
        assert len(elsewhere.app.state.calls) == 1
    assert client.get(f"/api/v1/keys/{key['id']}").json()["config"]["base_url"] == (
        fake.url + "/v1"
    )


@pytest.mark.parametrize(
    "change",
    [
        {"config": {"base_url": "http://169.254.169.254/v1"}, "credentials": {"api_key": GOOD}},
        {"config": {"base_url": "notaurl"}, "credentials": {"api_key": GOOD}},
        {"credentials": {"api_key": "sk-…abcd"}},
        {"credentials": {"no_such_field": "x"}},
        {"unknown": 1},
    ],
)
def test_a_proposed_change_is_held_to_the_rules_of_a_save(
    client: CheckedClient, fake: ServerThread, change: dict[str, Any]
) -> None:
    key = _key(client, fake, GOOD)
    before = len(fake.app.state.calls)
    r = client.post(f"/api/v1/keys/{key['id']}/verify", json=change)
    assert r.status_code == 422, r.text
    assert len(fake.app.state.calls) == before
