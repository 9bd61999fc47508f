"""Checks of a key's credentials and config against its provider's catalog row."""

from __future__ import annotations

import re
from collections.abc import Mapping

from keyhouse.admin.secret_rules import looks_like_mask, secret_problem
from keyhouse.errors import ValidationFailed
from keyhouse.providers import catalog
from keyhouse.providers.catalog import AuthMethod, ProviderSpec


class FieldErrors:
    """Collects every problem of a request, so the caller sees them all at once."""

    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, field: str, message: str) -> None:
        self.items.append({"field": field, "message": message})

    def raise_if_any(self) -> None:
        if self.items:
            first = self.items[0]
            raise ValidationFailed(f"{first['field']}: {first['message']}", fields=self.items)


def resolve_method(provider: str, auth_method: str | None) -> tuple[ProviderSpec, AuthMethod]:
    spec = catalog.get(provider)
    if spec is None:
        raise ValidationFailed(
            "Unknown provider.", fields=[{"field": "provider", "message": "unknown provider"}]
        )
    method = spec.auth_method(auth_method)
    if method is None:
        raise ValidationFailed(
            f"Provider {provider!r} has no auth method {auth_method!r}.",
            fields=[{"field": "auth_method", "message": "unknown auth method"}],
        )
    return spec, method


def refuse_ambient(method: AuthMethod, allowed: bool) -> None:
    """Keyless methods act as the server's own cloud identity: the operator opts in."""
    if method.ambient and not allowed:
        raise ValidationFailed(
            f"The {method.id} auth method uses this server's own cloud identity; the "
            "operator must set KEYHOUSE_ALLOW_AMBIENT_CREDENTIALS=true to allow it.",
            fields=[
                {"field": "auth_method", "message": "needs KEYHOUSE_ALLOW_AMBIENT_CREDENTIALS=true"}
            ],
        )


def clean_secrets(
    method: AuthMethod,
    given: dict[str, str],
    errors: FieldErrors,
    *,
    require_all: bool,
    allow_private: bool = False,
    stored_masks: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Validated secret values; empty ones are dropped (on edit: "keep the current one")."""
    names = {f.name: f for f in method.secret_fields}
    out: dict[str, str] = {}
    for name, raw in given.items():
        spec = names.get(name)
        if spec is None:
            errors.add(f"credentials.{name}", "unknown field for this auth method")
            continue
        value = raw.strip()
        if not value:
            continue
        if looks_like_mask(value, stored_masks or {}, name):
            errors.add(
                f"credentials.{name}",
                "looks like a masked value; enter the real secret or leave it empty",
            )
            continue
        problem = secret_problem(spec, value, allow_private)
        if problem:
            errors.add(f"credentials.{name}", problem)
            continue
        out[name] = value
    if require_all:
        for spec in method.secret_fields:
            if (
                spec.required
                and spec.name not in out
                and f"credentials.{spec.name}" not in {e["field"] for e in errors.items}
            ):
                errors.add(f"credentials.{spec.name}", "required")
    return out


def clean_config(
    method: AuthMethod, given: dict[str, str | None], errors: FieldErrors, allow_private: bool
) -> dict[str, str | None]:
    """Validated config values; None or "" means "remove this optional value"."""
    from keyhouse.shared.urlpolicy import check_url  # the same policy the gateway enforces

    names = {f.name: f for f in method.config_fields}
    out: dict[str, str | None] = {}
    for name, raw in given.items():
        spec = names.get(name)
        if spec is None:
            errors.add(f"config.{name}", "unknown field for this auth method")
            continue
        value = (raw or "").strip()
        if not value:
            out[name] = None
            continue
        if any(ord(c) < 32 for c in value):
            errors.add(f"config.{name}", "must not contain control characters")
            continue
        if spec.pattern and not re.fullmatch(spec.pattern, value):
            errors.add(f"config.{name}", f"is not a valid {spec.label.lower()}")
            continue
        if spec.kind == "url":
            # Taken as given (no guessed scheme), so the CLI, the API and the web form
            # accept and refuse exactly the same text.
            if "://" not in value:
                errors.add(
                    f"config.{name}", "must be a full URL starting with https:// (or http://)"
                )
                continue
            value = value.rstrip("/")
            try:
                check_url(value, allow_private)
            except Exception as exc:  # UpstreamURLRefused, with a reason that is safe to show
                errors.add(f"config.{name}", getattr(exc, "message", "URL not allowed"))
                continue
        out[name] = value
    return out


def require_config(method: AuthMethod, config: dict[str, str], errors: FieldErrors) -> None:
    for spec in method.config_fields:
        if (
            spec.required
            and not config.get(spec.name)
            and f"config.{spec.name}" not in {e["field"] for e in errors.items}
        ):
            errors.add(f"config.{spec.name}", "required")
