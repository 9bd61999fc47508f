"""Changing where a key's secret goes requires every stored secret again (docs/security.md,
exfiltration guard): every provider x auth method x destination field of the catalog."""

from __future__ import annotations

import pytest

from keyhouse.providers.catalog import PROVIDERS, AuthMethod, FieldSpec, ProviderSpec
from keyhouse.services import Services
from keyhouse.store.credentials import open_row
from keyhouse.store.models import ApiKeyRow
from tests.api.catalog_bodies import METHOD_IDS, METHODS, config_value, key_body, secret_value
from tests.api.conftest import CheckedClient

CASES = [(p, m, f) for p, m in METHODS for f in m.config_fields if f.destination]


def test_every_field_that_names_a_host_or_url_is_a_destination() -> None:
    # A new URL, host or host-building field must not slip past the guard unmarked.
    for provider in PROVIDERS:
        for method in provider.auth_methods:
            for f in method.config_fields:
                if f.kind == "url" or f.pattern or f.name in {"host", "tenant_id"}:
                    assert f.destination, f"{provider.id}/{method.id}/{f.name}"


def test_every_auth_method_with_a_secret_has_a_destination_field() -> None:
    for provider, method in METHODS:
        if method.secret_fields:
            assert method.destination_fields, f"{provider.id}/{method.id}"


@pytest.mark.parametrize(
    ("provider", "method", "field"), CASES, ids=[f"{p.id}/{m.id}/{f.name}" for p, m, f in CASES]
)
def test_moving_a_key_needs_every_stored_secret(
    client: CheckedClient,
    services: Services,
    provider: ProviderSpec,
    method: AuthMethod,
    field: FieldSpec,
) -> None:
    body = key_body(provider, method, "k")
    created = client.post("/api/v1/keys", json=body)
    assert created.status_code == 201, created.text
    key = created.json()
    moved = {"config": {field.name: config_value(field, 1)}}

    def unchanged() -> None:
        view = client.get(f"/api/v1/keys/{key['id']}").json()
        assert view["config"] == key["config"] and view["version"] == key["version"]
        with services.store.read() as session:
            row = session.get(ApiKeyRow, key["id"])
            assert row is not None
            assert open_row(services.keyring, row) == body["credentials"]

    r = client.patch(f"/api/v1/keys/{key['id']}", json=moved)
    if method.secret_fields:
        assert r.status_code == 422, r.text
        assert r.json()["error"]["fields"][0]["field"] == "credentials"
        unchanged()
        # Each secret held, optional ones too, is needed: any one missing is refused.
        for left_out in body["credentials"]:
            partial = {k: v for k, v in body["credentials"].items() if k != left_out}
            r = client.patch(f"/api/v1/keys/{key['id']}", json={**moved, "credentials": partial})
            assert r.status_code == 422, (left_out, r.text)
            unchanged()
    again = {f.name: secret_value(f) for f in method.secret_fields}
    r = client.patch(f"/api/v1/keys/{key['id']}", json={**moved, "credentials": again})
    assert r.status_code == 200, r.text
    assert r.json()["config"][field.name] == config_value(field, 1)


@pytest.mark.parametrize(("provider", "method"), METHODS, ids=METHOD_IDS)
def test_a_key_holding_only_required_secrets_needs_those(
    client: CheckedClient, provider: ProviderSpec, method: AuthMethod
) -> None:
    """An optional secret that was never stored is not asked for; one that was, is."""
    fields = [f for f in method.config_fields if f.destination]
    if not fields:
        pytest.skip("no destination field")
    key = client.post(
        "/api/v1/keys", json=key_body(provider, method, "k", all_secrets=False)
    ).json()
    given = {f.name: secret_value(f) for f in method.secret_fields if f.required}
    r = client.patch(
        f"/api/v1/keys/{key['id']}",
        json={"config": {fields[0].name: config_value(fields[0], 1)}, "credentials": given},
    )
    assert r.status_code == 200, r.text
