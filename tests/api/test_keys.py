"""The keys API: create, list, read, edit, delete — and what must never come back out."""

from __future__ import annotations

from sqlalchemy import func, select

from keyhouse.services import Services
from keyhouse.store.models import ApiKeyRow, AuditEventRow
from tests.api.conftest import CheckedClient, azure_key, bedrock_key, openai_key
from tests.conftest import CANARY


def _count(services: Services) -> int:
    with services.store.read() as session:
        return int(session.scalar(select(func.count()).select_from(ApiKeyRow)) or 0)


def test_create_openai_azure_and_bedrock_keys_shows_only_masks(client: CheckedClient) -> None:
    for body in (openai_key(), azure_key(), bedrock_key()):
        r = client.post("/api/v1/keys", json=body)
        assert r.status_code == 201, r.text
        view = r.json()
        assert view["name"] == body["name"]
        assert view["version"] == 1
        assert set(view) >= {
            "id",
            "provider",
            "auth_method",
            "masked",
            "config",
            "endpoints",
            "created_at",
            "updated_at",
        }
        for field, mask in view["masked"].items():
            assert mask.endswith(CANARY[-4:]) or field == "aws_access_key_id"
            assert len(mask.replace("…", "").replace("sk-", "")) <= 4 or mask.startswith("AKIA")
    listed = client.get("/api/v1/keys").json()["keys"]
    assert [k["name"] for k in listed] == ["azure-main", "bedrock-main", "openai-main"]
    azure = next(k for k in listed if k["name"] == "azure-main")
    assert azure["auth_method"] == "azure"
    assert azure["config"]["endpoint_url"] == "https://my-resource.openai.azure.com"
    assert azure["masked"] == {"api_key": "sk-…" + CANARY[-4:]}


def test_short_secrets_show_no_characters(client: CheckedClient) -> None:
    r = client.post("/api/v1/keys", json=openai_key(secret="short-secret"))
    assert r.json()["masked"]["api_key"] == "••••••••"


def test_list_filters_by_provider_and_search(client: CheckedClient) -> None:
    client.post("/api/v1/keys", json=openai_key("team-a"))
    client.post("/api/v1/keys", json=bedrock_key("team-b"))
    assert [k["name"] for k in client.get("/api/v1/keys?provider=bedrock").json()["keys"]] == [
        "team-b"
    ]
    assert [k["name"] for k in client.get("/api/v1/keys?search=M-A").json()["keys"]] == ["team-a"]


def test_duplicate_name_is_409(client: CheckedClient, services: Services) -> None:
    assert client.post("/api/v1/keys", json=openai_key("dup")).status_code == 201
    r = client.post("/api/v1/keys", json=openai_key("dup"))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "already_exists"
    assert _count(services) == 1


def test_patch_keeps_unmentioned_secret_and_renames(
    client: CheckedClient, services: Services
) -> None:
    key = client.post("/api/v1/keys", json=openai_key()).json()
    r = client.patch(f"/api/v1/keys/{key['id']}", json={"name": "renamed", "description": "prod"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "renamed" and r.json()["version"] == 2
    assert r.json()["masked"] == key["masked"]
    assert services.registry.credential(key["id"]).secrets["api_key"] == CANARY


def test_patch_replaces_credential_with_fresh_ciphertext(
    client: CheckedClient, services: Services
) -> None:
    key = client.post("/api/v1/keys", json=openai_key()).json()
    with services.store.read() as s:
        before = s.get(ApiKeyRow, key["id"])
        assert before is not None
        old_ct, old_dek = before.ciphertext, before.wrapped_dek
    new_secret = "sk-rotated-" + "x" * 30 + "WXYZ"
    r = client.patch(f"/api/v1/keys/{key['id']}", json={"credentials": {"api_key": new_secret}})
    assert r.status_code == 200
    assert r.json()["masked"]["api_key"] == "sk-…WXYZ"
    with services.store.read() as s:
        after = s.get(ApiKeyRow, key["id"])
        assert after is not None
        assert after.ciphertext != old_ct and after.wrapped_dek != old_dek
    assert services.registry.credential(key["id"]).secrets["api_key"] == new_secret


def test_if_match_stale_version_is_412_and_changes_nothing(client: CheckedClient) -> None:
    key = client.post("/api/v1/keys", json=openai_key()).json()
    ok = client.patch(
        f"/api/v1/keys/{key['id']}", json={"description": "a"}, headers={"If-Match": "1"}
    )
    assert ok.status_code == 200
    stale = client.patch(
        f"/api/v1/keys/{key['id']}", json={"description": "b"}, headers={"If-Match": "1"}
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "version_mismatch"
    assert client.get(f"/api/v1/keys/{key['id']}").json()["description"] == "a"


def test_changing_base_url_requires_the_credential_again(
    client: CheckedClient, services: Services
) -> None:
    key = client.post("/api/v1/keys", json=openai_key(base_url="https://api.openai.com/v1")).json()
    r = client.patch(
        f"/api/v1/keys/{key['id']}", json={"config": {"base_url": "https://evil.example.com/v1"}}
    )
    assert r.status_code == 422
    assert r.json()["error"]["fields"][0]["field"] == "credentials"
    assert (
        client.get(f"/api/v1/keys/{key['id']}").json()["config"]["base_url"]
        == "https://api.openai.com/v1"
    )
    r = client.patch(
        f"/api/v1/keys/{key['id']}",
        json={
            "config": {"base_url": "https://other.example.com/v1"},
            "credentials": {"api_key": "sk-other-" + "y" * 30},
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["config"]["base_url"] == "https://other.example.com/v1"


def test_patch_with_extra_fields_is_rejected(client: CheckedClient) -> None:
    """SECURITY.md test 14."""
    key = client.post("/api/v1/keys", json=openai_key()).json()
    for extra in (
        {"kek_version": 7},
        {"id": "other"},
        {"provider": "anthropic"},
        {"masked": {"api_key": "x"}},
        {"version": 9},
    ):
        r = client.patch(f"/api/v1/keys/{key['id']}", json=extra)
        assert r.status_code == 422, extra
    after = client.get(f"/api/v1/keys/{key['id']}").json()
    assert after["version"] == 1 and after["provider"] == "openai"


def test_masked_value_sent_back_is_not_stored(client: CheckedClient, services: Services) -> None:
    """SECURITY.md test 14: a UI that echoes the mask must not overwrite the secret."""
    key = client.post("/api/v1/keys", json=openai_key()).json()
    r = client.patch(
        f"/api/v1/keys/{key['id']}", json={"credentials": {"api_key": key["masked"]["api_key"]}}
    )
    assert r.status_code == 422
    r = client.patch(f"/api/v1/keys/{key['id']}", json={"credentials": {"api_key": ""}})
    assert r.status_code == 200
    assert services.registry.credential(key["id"]).secrets["api_key"] == CANARY


def test_every_credential_route_answers_only_masks(client: CheckedClient) -> None:
    """SECURITY.md test 9 (the CheckedClient also fails on any leak)."""
    key = client.post("/api/v1/keys", json=openai_key()).json()
    ep = client.post(
        "/api/v1/endpoints",
        json={"name": "chat", "targets": [{"key_id": key["id"], "model": "gpt-4o"}]},
    ).json()
    for path in (
        "/api/v1/keys",
        f"/api/v1/keys/{key['id']}",
        "/api/v1/endpoints",
        f"/api/v1/endpoints/{ep['id']}",
        "/api/v1/audit",
        "/api/v1/providers",
    ):
        r = client.get(path)
        assert r.status_code == 200
        assert CANARY not in r.text and 'api_key": "sk' not in r.text


def test_audit_records_who_did_what_without_values(
    client: CheckedClient, services: Services
) -> None:
    key = client.post("/api/v1/keys", json=openai_key()).json()
    client.patch(f"/api/v1/keys/{key['id']}", json={"credentials": {"api_key": CANARY + "2"}})
    client.delete(f"/api/v1/keys/{key['id']}")
    events = client.get("/api/v1/audit").json()["events"]
    assert [e["action"] for e in events[:3]] == ["key.delete", "key.update", "key.create"]
    assert all(e["actor"] == "admin-token" for e in events[:3])
    assert events[1]["details"]["changed"] == ["credentials"]
    with services.store.read() as s:
        for row in s.scalars(select(AuditEventRow)):
            assert CANARY[-12:] not in repr(row.details)


def test_delete_key_in_use_is_409_naming_endpoints_then_force(
    client: CheckedClient, services: Services
) -> None:
    """SECURITY.md test 16."""
    key = client.post("/api/v1/keys", json=openai_key()).json()
    for name in ("ep-one", "ep-two"):
        r = client.post(
            "/api/v1/endpoints",
            json={"name": name, "targets": [{"key_id": key["id"], "model": "gpt-4o-mini"}]},
        )
        assert r.status_code == 201, r.text
    view = client.get(f"/api/v1/keys/{key['id']}").json()
    assert sorted(e["name"] for e in view["endpoints"]) == ["ep-one", "ep-two"]
    r = client.delete(f"/api/v1/keys/{key['id']}")
    assert r.status_code == 409
    err = r.json()["error"]
    assert err["code"] == "key_in_use"
    assert sorted(e["name"] for e in err["endpoints"]) == ["ep-one", "ep-two"]
    assert "ep-one" in err["message"]
    assert _count(services) == 1
    assert client.delete(f"/api/v1/keys/{key['id']}?force=true").status_code == 204
    assert _count(services) == 0
    eps = client.get("/api/v1/endpoints").json()["endpoints"]
    assert [t["key_id"] for e in eps for t in e["targets"]] == [None, None]


def test_unknown_key_is_404(client: CheckedClient) -> None:
    for method in ("get", "delete"):
        r = getattr(client, method)("/api/v1/keys/nope")
        assert r.status_code == 404
        assert r.json() == {"error": {"code": "not_found", "message": "No API key with that id."}}
