"""Who is calling the gateway, and may they call this endpoint.

Applications send an access token (or the admin token) as ``Authorization: Bearer`` or
as ``x-api-key`` (Anthropic clients send either). The web UI's "try it" panel uses its
sign-in session instead, which counts only on requests that carry
``X-Keyhouse-Client: web`` — a header a cross-site form cannot send.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import anyio
from starlette.requests import Request

from keyhouse.errors import Forbidden, Unauthorized
from keyhouse.gateway.types import Endpoint, Principal, Registry

MAX_TOKEN_LENGTH = 512

_session_lookup: Callable[[Request], Any] | None = None
_session_lookup_loaded = False


def presented_token(request: Request) -> str | None:
    """The token in ``Authorization: Bearer`` or, failing that, ``x-api-key``."""
    headers = request.headers
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    api_key = headers.get("x-api-key")
    if api_key and api_key.strip():
        return api_key.strip()
    return None


async def authenticate(request: Request) -> Principal:
    """The caller's principal, or 401."""
    token = presented_token(request)
    if token is not None:
        registry: Registry = request.app.state.registry
        principal = registry.authenticate(token) if len(token) <= MAX_TOKEN_LENGTH else None
        if principal is None:
            raise Unauthorized("The access token is not valid.")
        return principal
    principal = await _session_principal(request)
    if principal is None:
        raise Unauthorized("An access token is required: send it as "
                           "'Authorization: Bearer <token>' or 'x-api-key: <token>'.")
    return principal


def authorize(principal: Principal, endpoint: Endpoint) -> None:
    if not principal.may_call(endpoint):
        raise Forbidden(f"This token may not call the endpoint {endpoint.name!r}.")


async def _session_principal(request: Request) -> Principal | None:
    # Only the UI sends this header; skip the session machinery for everyone else.
    if "x-keyhouse-client" not in request.headers:
        return None
    lookup = _load_session_lookup()
    if lookup is None:
        return None
    # The session lives in the database: look it up off the event loop.
    result = await anyio.to_thread.run_sync(lookup, request)
    if inspect.isawaitable(result):
        result = await result
    return result if isinstance(result, Principal) else None


def _load_session_lookup() -> Callable[[Request], Any] | None:
    # Imported lazily: the admin package depends on the store, which the gateway does not
    # need, and tests run the gateway without it.
    global _session_lookup, _session_lookup_loaded
    if not _session_lookup_loaded:
        try:
            from keyhouse.admin.auth import session_principal  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            _session_lookup = None
        else:
            _session_lookup = session_principal
        _session_lookup_loaded = True
    return _session_lookup
