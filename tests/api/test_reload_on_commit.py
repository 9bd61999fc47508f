"""Every admin write reaches this replica's live gateway config before its answer: one
on-commit hook in the store, not a reload call per route."""

from __future__ import annotations

from keyhouse.app import create_app
from keyhouse.services import Services
from tests.api.conftest import CheckedClient, openai_key

NOT_CONFIG = {
    ("POST", "/api/v1/session"),
    ("DELETE", "/api/v1/session"),
    ("POST", "/api/v1/keys/{key_id}/verify"),
}


def test_every_admin_write_is_live_when_it_answers(
    client: CheckedClient, services: Services
) -> None:
    paths = create_app(services.settings, services).openapi()["paths"]
    routes = {
        (m.upper(), path)
        for path, item in paths.items()
        for m in item
        if m in {"post", "patch", "put", "delete"}
    } - NOT_CONFIG
    tried: set[tuple[str, str]] = set()
    registry = services.registry

    def write(method: str, template: str, url: str, **kw: object) -> dict[str, object]:
        before = registry.version
        r = client.request(method, url, **kw)  # type: ignore[arg-type]
        assert r.status_code < 300, (method, url, r.text)
        assert registry.version == services.store.config_version(), (method, url)
        assert registry.version > before, (method, url)
        tried.add((method, template))
        return r.json() if r.content else {}

    key = write("POST", "/api/v1/keys", "/api/v1/keys", json=openai_key())
    assert registry.credential(str(key["id"])).secrets  # the new key is usable at once
    write(
        "PATCH",
        "/api/v1/keys/{key_id}",
        f"/api/v1/keys/{key['id']}",
        json={"credentials": {"api_key": "sk-second-" + "s" * 30}},
    )
    assert registry.credential(str(key["id"])).secrets["api_key"] == "sk-second-" + "s" * 30
    write(
        "POST",
        "/api/v1/keys/{key_id}/rollback",
        f"/api/v1/keys/{key['id']}/rollback",
        json={"version": 1},
    )
    ep = write(
        "POST",
        "/api/v1/endpoints",
        "/api/v1/endpoints",
        json={"name": "chat", "targets": [{"key_id": key["id"], "model": "m"}]},
    )
    assert registry.endpoint("chat") is not None
    write(
        "PATCH",
        "/api/v1/endpoints/{endpoint_id}",
        f"/api/v1/endpoints/{ep['id']}",
        json={"name": "chat2"},
    )
    assert registry.endpoint("chat2") is not None and registry.endpoint("chat") is None
    token = write("POST", "/api/v1/access-tokens", "/api/v1/access-tokens", json={"name": "app"})
    assert registry.authenticate(str(token["token"])) is not None
    write(
        "PATCH",
        "/api/v1/access-tokens/{token_id}",
        f"/api/v1/access-tokens/{token['id']}",
        json={"limits": {"requests_per_minute": 5}},
    )
    principal = registry.authenticate(str(token["token"]))
    assert principal is not None and principal.limited is not None
    rotated = write(
        "POST",
        "/api/v1/access-tokens/{token_id}/rotate",
        f"/api/v1/access-tokens/{token['id']}/rotate",
        json={"grace_seconds": 0},
    )
    assert registry.authenticate(str(token["token"])) is None
    token = {**token, "token": rotated["token"]}
    assert registry.authenticate(str(token["token"])) is not None
    write("DELETE", "/api/v1/access-tokens/{token_id}", f"/api/v1/access-tokens/{token['id']}")
    assert registry.authenticate(str(token["token"])) is None
    write("DELETE", "/api/v1/endpoints/{endpoint_id}", f"/api/v1/endpoints/{ep['id']}")
    write("DELETE", "/api/v1/keys/{key_id}", f"/api/v1/keys/{key['id']}")
    assert registry.endpoints() == []
    # A write route added later must be added here (and is live through the same hook).
    assert tried == routes, routes - tried
