"""Who is calling the gateway, and may they call this endpoint.

Applications send an access token (or the admin token) as ``Authorization: Bearer`` or
as ``x-api-key`` (Anthropic clients send either). The web UI's "try it" panel uses its
sign-in session instead, which counts only on requests that carry
``X-Keyhouse-Client: web`` — a header a cross-site form cannot send.
"""

from __future__ import annotations

import anyio
from starlette.requests import Request

from keyhouse.admin.auth import session_principal
from keyhouse.errors import Forbidden, Unauthorized
from keyhouse.gateway.types import Endpoint, Principal, Registry

MAX_TOKEN_LENGTH = 512


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
    # The session lives in the database: look it up off the event loop.
    return await anyio.to_thread.run_sync(session_principal, request)
