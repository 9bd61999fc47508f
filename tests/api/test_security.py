"""SECURITY.md tests 1, 3, 4, 13 and 17 against the real app and database."""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update

from keyhouse.errors import DecryptionFailed
from keyhouse.services import Services
from keyhouse.store.models import ApiKeyRow, EndpointRow
from tests.api.conftest import CheckedClient, bedrock_key, openai_key
from tests.conftest import ADMIN_TOKEN, CANARY


def _encodings(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [
        raw,
        base64.b64encode(raw),
        base64.urlsafe_b64encode(raw),
        binascii.hexlify(raw),
        raw.hex().upper().encode(),
        raw[8:28],
    ]


def test_raw_database_holds_no_plaintext_credential(
    client: CheckedClient, services: Services, settings
) -> None:
    """SECURITY.md test 1: the database file (or a dump of every table)."""
    client.post("/api/v1/keys", json=openai_key())
    client.post("/api/v1/keys", json=bedrock_key())
    if services.store.dialect == "sqlite":
        services.store.dispose()
        blob = b"".join(p.read_bytes() for p in Path(settings.home.parent).glob("keyhouse.db*"))
    else:
        dump = []
        with services.store.engine.connect() as conn:
            tables = (
                conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
                )
                .scalars()
                .all()
            )
            for table in tables:
                for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                    dump.append(
                        repr(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row))
                    )
        blob = "\n".join(dump).encode()
    assert len(blob) > 1000
    for needle in _encodings(CANARY):
        assert needle not in blob


def _corrupt(services: Services, key_id: str, column: str, offset: int) -> None:
    with services.store.write() as session:
        row = session.get(ApiKeyRow, key_id)
        assert row is not None
        raw = bytearray(getattr(row, column))
        raw[offset] ^= 0xFF
        session.execute(
            update(ApiKeyRow).where(ApiKeyRow.id == key_id).values({column: bytes(raw)})
        )
    services.registry.load()


@pytest.mark.parametrize(
    "column,offset",
    [("ciphertext", 3), ("ciphertext", -2), ("wrapped_dek", 5), ("wrapped_dek", -1)],
)
def test_tampered_row_gives_a_typed_error_and_a_generic_api_error(
    client: CheckedClient, services: Services, column: str, offset: int
) -> None:
    """SECURITY.md test 3."""
    key = client.post("/api/v1/keys", json=openai_key()).json()
    _corrupt(services, key["id"], column, offset)
    with pytest.raises(DecryptionFailed):
        services.registry.credential(key["id"])
    # An edit that must merge with the stored secret cannot, and says so generically.
    r = client.patch(
        f"/api/v1/keys/{key['id']}", json={"credentials": {"api_key": "sk-new-" + "z" * 30}}
    )
    assert r.status_code == 500
    assert r.json() == {
        "error": {
            "code": "decryption_failed",
            "message": "A stored credential could not be decrypted.",
        }
    }


def test_ciphertexts_swapped_between_rows_fail_to_decrypt(
    client: CheckedClient, services: Services
) -> None:
    """SECURITY.md test 4: copying sealed columns onto another row in SQL."""
    a = client.post("/api/v1/keys", json=openai_key("key-a", CANARY)).json()
    b = client.post("/api/v1/keys", json=openai_key("key-b", CANARY + "b")).json()
    with services.store.write() as session:
        ra, rb = session.get(ApiKeyRow, a["id"]), session.get(ApiKeyRow, b["id"])
        assert ra and rb
        sa_ = (ra.wrapped_dek, ra.ciphertext)
        sb_ = (rb.wrapped_dek, rb.ciphertext)
        session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.id == a["id"])
            .values(wrapped_dek=sb_[0], ciphertext=sb_[1])
        )
        session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.id == b["id"])
            .values(wrapped_dek=sa_[0], ciphertext=sa_[1])
        )
    services.registry.load()
    for key_id in (a["id"], b["id"]):
        with pytest.raises(DecryptionFailed):
            services.registry.credential(key_id)


PUBLIC = {
    ("POST", "/api/v1/session"),
    ("GET", "/api/v1/session"),
    ("DELETE", "/api/v1/session"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
}


def _flatten(routes: list[Any]) -> list[Any]:
    """Every route, including those of included routers (newer FastAPI keeps them nested)."""
    out = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        out.extend(_flatten(inner.routes) if inner is not None else [route])
    return out


def _routes(client: CheckedClient) -> list[tuple[str, str]]:
    out = []
    for route in _flatten(client.app.routes):  # type: ignore[attr-defined]
        path = getattr(route, "path", "")
        for method in sorted(getattr(route, "methods", None) or ()):
            if method == "HEAD":
                continue
            out.append(
                (
                    method,
                    path.replace("{key_id}", "x")
                    .replace("{endpoint_id}", "x")
                    .replace("{token_id}", "x"),
                )
            )
    return out


def test_every_admin_route_needs_the_admin_token(client: CheckedClient) -> None:
    """SECURITY.md test 13: a new admin route reachable without the token fails this."""
    routes = [r for r in _routes(client) if r[1].startswith(("/api/", "/v1/"))]
    assert len(routes) >= 20
    checked = 0
    for method, path in routes:
        if (method, path) in PUBLIC:
            continue
        for headers in (
            {"Authorization": ""},
            {"Authorization": "Bearer wrong-token"},
            {"Authorization": "Basic Zm9vOmJhcg=="},
        ):
            r = client.request(method, path, headers=headers, json={})
            assert r.status_code == 401, (method, path, headers, r.status_code)
        checked += 1
    assert checked >= 18
    # And with the token the same routes are reachable (no 401).
    assert client.get("/api/v1/keys").status_code == 200


def test_session_cookie_needs_the_csrf_header_for_writes(
    client: CheckedClient, services: Services
) -> None:
    client.headers.pop("Authorization")
    assert client.post("/api/v1/session", json={"token": "nope"}).status_code == 401
    r = client.post("/api/v1/session", json={"token": ADMIN_TOKEN})
    assert r.status_code == 204
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/api/v1/keys").status_code == 200
    # A cross-site form post carries the cookie but cannot add a custom header.
    form = client.post(
        "/api/v1/keys",
        data={"name": "x"},
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": "https://evil.example",
        },
    )
    assert form.status_code == 403
    assert form.json()["error"]["reason"] == "csrf"
    js = client.post("/api/v1/keys", json=openai_key())
    assert js.status_code == 403
    ok = client.post("/api/v1/keys", json=openai_key(), headers={"X-Keyhouse-Client": "web"})
    assert ok.status_code == 201
    assert client.delete("/api/v1/session").status_code == 204
    assert client.get("/api/v1/keys").status_code == 401


def _stored(services: Services) -> tuple[int, int]:
    with services.store.read() as session:
        return (
            len(session.scalars(select(ApiKeyRow.id)).all()),
            len(session.scalars(select(EndpointRow.id)).all()),
        )


@pytest.mark.parametrize(
    "body,status",
    [
        ({**openai_key(), "name": "bad name"}, 422),
        ({**openai_key(), "name": "../etc/passwd"}, 422),
        ({**openai_key(), "name": "x" * 65}, 422),
        ({**openai_key(), "name": "ключ"}, 422),
        ({**openai_key(), "name": "a\u0000b"}, 422),
        ({**openai_key(), "provider": "nope"}, 422),
        ({**openai_key(), "auth_method": "nope"}, 422),
        ({**openai_key(), "credentials": {}}, 422),
        ({**openai_key(), "credentials": {"api_key": CANARY, "extra": "x"}}, 422),
        ({**openai_key(), "credentials": {"api_key": "x" * 20000}}, 422),
        ({**openai_key(), "config": {"unknown": "x"}}, 422),
        ({**openai_key(), "config": {"base_url": "ftp://example.com"}}, 422),
        ({**openai_key(), "surprise": 1}, 422),
        (
            {
                "name": "azure",
                "provider": "openai",
                "auth_method": "azure",
                "credentials": {"api_key": CANARY},
                "config": {},
            },
            422,
        ),
        ({**openai_key(), "credentials": {f"f{i}": "v" for i in range(10_000)}}, 422),
        ({**openai_key(), "config": {f"f{i}": "v" for i in range(10_000)}}, 422),
    ],
)
def test_bad_input_gets_a_4xx_and_stores_nothing(
    client: CheckedClient, services: Services, body: dict[str, Any], status: int
) -> None:
    """SECURITY.md test 17."""
    r = client.post("/api/v1/keys", json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_error" and err["message"]
    assert "Traceback" not in r.text and "SELECT" not in r.text
    assert _stored(services) == (0, 0)


def test_oversized_and_malformed_bodies(client: CheckedClient, services: Services) -> None:
    huge = json.dumps({**openai_key(), "description": "x" * 300_000})
    r = client.post("/api/v1/keys", content=huge, headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "payload_too_large"
    r = client.post(
        "/api/v1/keys", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "bad_request"
    assert _stored(services) == (0, 0)


def test_error_shape_is_pinned(client: CheckedClient) -> None:
    r = client.get("/api/v1/keys", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert r.json() == {
        "error": {"code": "unauthorized", "message": "That token is not the admin token."}
    }
    r = client.post("/api/v1/keys", json={**openai_key(), "name": "bad name"})
    err = r.json()["error"]
    assert set(err) == {"code", "message", "fields"}
    assert err["fields"][0]["field"] == "name"
    assert "bad name" not in r.text  # the input is never echoed back
