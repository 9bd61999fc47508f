"""Verify a credential with the provider's cheapest authenticated call: the stored one,
or the stored one with proposed changes applied (tested before they are saved)."""

from __future__ import annotations

import dataclasses
import logging
import uuid

import anyio

from keyhouse.admin.schemas import KeyCheck, VerifyResult
from keyhouse.admin.secret_rules import secret_problem
from keyhouse.admin.validation import (
    FieldErrors,
    clean_config,
    clean_secrets,
    require_config,
    resolve_method,
)
from keyhouse.errors import (
    AmbientCredentialsDisabled,
    KeyhouseError,
    NoKey,
    NotFound,
    Unsupported,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from keyhouse.gateway.live_config import LiveRegistry
from keyhouse.gateway.routing import Router
from keyhouse.gateway.upstream import Timeouts, Upstream
from keyhouse.providers import catalog
from keyhouse.providers.base import Call, Credential

TIMEOUT = Timeouts(read=15.0, connect=5.0)
log = logging.getLogger("keyhouse.verify")


async def verify_key(
    registry: LiveRegistry,
    client: Upstream,
    router: Router,
    key_id: str,
    proposed: KeyCheck | None = None,
    *,
    allow_private: bool = False,
) -> VerifyResult:
    # The key may have been written on another replica a moment ago.
    await anyio.to_thread.run_sync(registry.refresh_if_changed)
    try:
        credential = registry.credential(key_id)
    except NoKey:
        raise NotFound("No API key with that id.") from None
    except AmbientCredentialsDisabled as exc:  # refused before any request is made
        return VerifyResult(status="error", message=exc.message)
    if proposed is not None:
        credential = with_changes(credential, proposed, allow_private)
    spec = catalog.get(credential.provider)
    if spec is None:
        return VerifyResult(status="unsupported", message="Unknown provider.")
    method = spec.auth_method(credential.auth_method)
    for field in method.secret_fields if method else ():
        value = credential.secrets.get(field.name)
        # A row stored before secrets were checked: say which field, without a request
        # (the URL policy is the gateway's job at connect time, hence allow_private).
        problem = secret_problem(field, value, allow_private=True) if value else None
        if problem:
            return VerifyResult(
                status="error", message=f"credentials.{field.name} {problem}; enter it again."
            )
    call = Call(client=client, credential=credential, model="", timeout=TIMEOUT)
    try:
        await router.adapters.get(spec, credential.auth_method).verify(call)
    except UpstreamAuthFailed as exc:
        return VerifyResult(status="rejected", message=exc.message)
    except (UpstreamUnavailable, UpstreamTimeout) as exc:
        return VerifyResult(status="unreachable", message=exc.message)
    except Unsupported as exc:
        return VerifyResult(status="unsupported", message=exc.message)
    except UpstreamError as exc:  # messages of this tree are already scrubbed
        return VerifyResult(status="error", message=exc.message)
    except KeyhouseError as exc:
        return VerifyResult(status="error", message=exc.message)
    except Exception as exc:  # a check is an answer, never a 500; the text may hold a value
        log.error("verify of key %s failed with %s", key_id, type(exc).__name__)
        return VerifyResult(status="error", message="The check failed unexpectedly.")
    return VerifyResult(status="ok", message=f"{spec.display_name} accepted the credential.")


def with_changes(current: Credential, proposed: KeyCheck, allow_private: bool) -> Credential:
    """The credential as ``proposed`` would make it, checked by the rules a save uses."""
    _, method = resolve_method(current.provider, current.auth_method)
    errors = FieldErrors()
    secrets = clean_secrets(
        method,
        dict(proposed.credentials or {}),
        errors,
        require_all=False,
        allow_private=allow_private,
    )
    config = dict(current.config)
    for name, value in clean_config(
        method, dict(proposed.config or {}), errors, allow_private
    ).items():
        if value is None:
            config.pop(name, None)
        else:
            config[name] = value
    require_config(method, config, errors)
    missing = [name for name in current.secrets if name not in secrets]
    if config != dict(current.config) and missing:
        # A stored secret must never be sent somewhere new on the strength of a test:
        # with changed settings, the test carries the whole credential.
        errors.add(
            "credentials",
            "testing changed settings requires re-entering every "
            f"stored secret ({', '.join(sorted(missing))})",
        )
    errors.raise_if_any()
    # Its own identity: adapters cache tokens per (key_id, version), and a token got with
    # an unsaved credential must never serve the key's live traffic.
    return dataclasses.replace(
        current,
        key_id=f"{current.key_id}#proposed-{uuid.uuid4()}",
        secrets={**current.secrets, **secrets},
        config=config,
    )
