"""Verify a stored credential with the provider's cheapest authenticated call."""

from __future__ import annotations

import anyio

from keyhouse.admin.schemas import VerifyResult
from keyhouse.errors import (
    NoKey,
    NotFound,
    Unsupported,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from keyhouse.gateway.routing import Router
from keyhouse.gateway.upstream import Timeouts, Upstream
from keyhouse.providers import catalog
from keyhouse.providers.base import Call
from keyhouse.registry import LiveRegistry

TIMEOUT = Timeouts(read=15.0, connect=5.0)


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
    return VerifyResult(status="ok", message=f"{spec.display_name} accepted the credential.")
