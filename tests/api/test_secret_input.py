"""Secrets are validated for where they go, and masks are never stored: every secret
field of every provider and auth method in the catalog."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from keyhouse.providers.catalog import AuthMethod, FieldSpec, ProviderSpec
from keyhouse.services import Services
from keyhouse.store import credentials
from keyhouse.store.models import ApiKeyRow
from tests.api.catalog_bodies import SECRET_FIELD_IDS, SECRET_FIELDS, key_body, secret_value
from tests.api.conftest import CheckedClient

# Each one broke every later call in 0.1.0 (503/400/502) and /verify with a 500.
HEADER_BREAKERS = {
    "nul": "sk-abc\x00defghijklmnop",
    "crlf": "sk-abcdefgh\r\nX-Injected: 1",
    "lf": "sk-abcdefgh\nijklmnop",
    "del": "sk-abcdefgh\x7fijklmnop",
    "non_ascii": "sk-abcdéfghijklmnop",
    "inner_space": "sk-abcdefgh ijklmnop",
    "tab": "sk-abcdefgh\tijklmnop",
}


def _broken_json() -> dict[str, str]:
    good = json.loads(secret_value(FieldSpec("service_account_json", "", kind="json")))
    out = {
        "not_json": "{nope",
        "array": "[]",
        "wrong_type": json.dumps({**good, "type": "x"}),
        "bad_pem": json.dumps({**good, "private_key": "-----BEGIN PRIVATE KEY-----\nAAAA"}),
    }
    for member in ("client_email", "private_key", "token_uri"):
        out[f"no_{member}"] = json.dumps({k: v for k, v in good.items() if k != member})
    return out


def _count(services: Services) -> int:
    with services.store.read() as session:
        return int(session.scalar(select(func.count()).select_from(ApiKeyRow)) or 0)


@pytest.mark.parametrize(("provider", "method", "field"), SECRET_FIELDS, ids=SECRET_FIELD_IDS)
def test_an_unusable_secret_is_422_naming_the_field(
    client: CheckedClient,
    services: Services,
    provider: ProviderSpec,
    method: AuthMethod,
    field: FieldSpec,
) -> None:
    breakers = _broken_json() if field.kind == "json" else HEADER_BREAKERS
    for why, bad in breakers.items():
        body = key_body(provider, method, "k")
        body["credentials"][field.name] = bad
        r = client.post("/api/v1/keys", json=body)
        assert r.status_code == 422, (why, r.text)
        assert r.json()["error"]["fields"][0]["field"] == f"credentials.{field.name}", why
        assert _count(services) == 0
    key = client.post("/api/v1/keys", json=key_body(provider, method, "k")).json()
    for why, bad in breakers.items():
        r = client.patch(f"/api/v1/keys/{key['id']}", json={"credentials": {field.name: bad}})
        assert r.status_code == 422, (why, r.text)
        assert r.json()["error"]["fields"][0]["field"] == f"credentials.{field.name}", why
        assert client.get(f"/api/v1/keys/{key['id']}").json()["version"] == key["version"]


# MLflow's style, ours, and the usual others: each shaped like the mask of "…" + tail.
def _look_alikes(mask: str) -> list[str]:
    tail = mask[-4:]
    return [
        mask,
        f"sk-...{tail}",
        f"sk-…{tail}",
        f"****{tail}",
        f"sk-****{tail}",
        f"...{tail}",
        f"••••{tail}",
        "••••••••",
        f"sk-{tail}",
        f"{tail}",
    ]


@pytest.mark.parametrize(("provider", "method", "field"), SECRET_FIELDS, ids=SECRET_FIELD_IDS)
def test_a_mask_look_alike_sent_back_is_refused(
    client: CheckedClient,
    services: Services,
    provider: ProviderSpec,
    method: AuthMethod,
    field: FieldSpec,
) -> None:
    body = key_body(provider, method, "k")
    key = client.post("/api/v1/keys", json=body).json()
    mask = key["masked"][field.name]
    for look_alike in _look_alikes(mask):
        r = client.patch(
            f"/api/v1/keys/{key['id']}", json={"credentials": {field.name: look_alike}}
        )
        assert r.status_code == 422, (look_alike, r.text)
        assert r.json()["error"]["fields"][0]["field"] == f"credentials.{field.name}"
    with services.store.read() as session:
        row = session.get(ApiKeyRow, key["id"])
        assert row is not None and row.credential_version == 1
        assert credentials.open_row(services.keyring, row) == body["credentials"]


@pytest.mark.parametrize(("provider", "method", "field"), SECRET_FIELDS, ids=SECRET_FIELD_IDS)
def test_verify_never_answers_500_for_a_stored_broken_secret(
    client: CheckedClient,
    services: Services,
    provider: ProviderSpec,
    method: AuthMethod,
    field: FieldSpec,
) -> None:
    """Rows stored by 0.1.0, before the checks: /verify says what is wrong, never 500."""
    breakers = _broken_json() if field.kind == "json" else HEADER_BREAKERS
    key = client.post("/api/v1/keys", json=key_body(provider, method, "k")).json()
    for why, bad in breakers.items():
        with services.store.write() as session:
            row = session.get(ApiKeyRow, key["id"])
            assert row is not None
            held = credentials.open_row(services.keyring, row)
            credentials.seal_onto(services.keyring, row, {**held, field.name: bad})
            row.version += 1
        services.registry.load()
        r = client.post(f"/api/v1/keys/{key['id']}/verify")
        assert r.status_code == 200, (why, r.text)
        assert r.json()["status"] != "ok", why
