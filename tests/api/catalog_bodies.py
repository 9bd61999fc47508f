"""Valid key bodies for every provider and auth method in the catalog, so a test can
enumerate the whole class instead of one example."""

from __future__ import annotations

import json
import secrets
from functools import cache
from typing import Any

from keyhouse.providers.catalog import PROVIDERS, AuthMethod, FieldSpec, ProviderSpec
from keyhouse.testing.fakes.gemini import make_service_account

METHODS: list[tuple[ProviderSpec, AuthMethod]] = [(p, m) for p in PROVIDERS for m in p.auth_methods]
METHOD_IDS = [f"{p.id}/{m.id}" for p, m in METHODS]

SECRET_FIELDS: list[tuple[ProviderSpec, AuthMethod, FieldSpec]] = [
    (p, m, f) for p, m in METHODS for f in m.secret_fields
]
SECRET_FIELD_IDS = [f"{p.id}/{m.id}/{f.name}" for p, m, f in SECRET_FIELDS]


@cache
def _service_account() -> str:
    return json.dumps(make_service_account("https://oauth2.googleapis.com/token")[0])


def secret_value(spec: FieldSpec) -> str:
    if spec.kind == "json":
        return _service_account()
    return f"sk-test-{secrets.token_urlsafe(24)}"


def config_value(spec: FieldSpec, variant: int = 0) -> str:
    """A valid value for a config field; ``variant`` 1 is a different valid value."""
    if spec.kind == "url":
        return f"https://{'elsewhere' if variant else 'upstream'}.example.com/v1"
    if spec.name == "region":
        return "eu-west-1" if variant else "us-east-1"
    if spec.name == "location":
        return "europe-west4" if variant else "us-central1"
    if spec.name == "api_version":
        return "2024-10-21"
    return f"{spec.name}-{variant}"


def key_body(
    provider: ProviderSpec,
    method: AuthMethod,
    name: str,
    all_secrets: bool = True,
    all_config: bool = True,
) -> dict[str, Any]:
    return {
        "name": name,
        "provider": provider.id,
        "auth_method": method.id,
        "credentials": {
            f.name: secret_value(f) for f in method.secret_fields if all_secrets or f.required
        },
        "config": {
            f.name: config_value(f) for f in method.config_fields if all_config or f.required
        },
    }
