"""Verify a stored credential with the provider's cheapest authenticated call."""

from __future__ import annotations

import logging

import anyio

from keyhouse.admin.schemas import VerifyResult
from keyhouse.admin.secret_rules import secret_problem
from keyhouse.errors import (
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
from keyhouse.providers.base import Call

TIMEOUT = Timeouts(read=15.0, connect=5.0)
log = logging.getLogger("keyhouse.verify")


async def verify_key(registry: LiveRegistry, client: Upstream, router: Router,
                     key_id: str) -> VerifyResult:
    # The key may have been written on another replica a moment ago.
    await anyio.to_thread.run_sync(registry.refresh_if_changed)
    try:
        credential = registry.credential(key_id)
    except NoKey:
        raise NotFound("No API key with that id.") from None
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
            return VerifyResult(status="error", message=f"credentials.{field.name} {problem}; "
                                "enter it again.")
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
