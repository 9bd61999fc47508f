"""Who is calling the gateway, and may they call this endpoint.

Applications send an access token (or the admin token) as ``Authorization: Bearer`` or
as ``x-api-key`` (Anthropic clients send either). The web UI's "try it" panel uses its
sign-in session instead, which counts only on requests that carry
``X-Keyhouse-Client: web`` — a header a cross-site form cannot send. The session check
itself is handed to the gateway by the app factory (the data plane does not import the
control plane).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from keyhouse.errors import Forbidden, Unauthorized
from keyhouse.gateway.types import Endpoint, Principal

if TYPE_CHECKING:
    from keyhouse.gateway.dispatch import GatewayRequest

MAX_TOKEN_LENGTH = 512


def presented_token(headers: dict[str, str]) -> str | None:
    """The token in ``Authorization: Bearer`` or, failing that, ``x-api-key``."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    api_key = headers.get("x-api-key")
    if api_key and api_key.strip():
        return api_key.strip()
    return None


async def authenticate(request: GatewayRequest) -> Principal:
    """The caller's principal, or 401."""
    headers = request.headers
    token = presented_token(headers)
    if token is not None:
        registry = request.gateway.registry
        principal = registry.authenticate(token) if len(token) <= MAX_TOKEN_LENGTH else None
        if principal is None:
            raise Unauthorized("The access token is not valid.")
        return principal
    principal = await _session_principal(request)
    if principal is None:
        raise Unauthorized(
            "An access token is required: send it as "
            "'Authorization: Bearer <token>' or 'x-api-key: <token>'."
        )
    return principal


def authorize(principal: Principal, endpoint: Endpoint) -> None:
    if not principal.may_call(endpoint):
        raise Forbidden(f"This token may not call the endpoint {endpoint.name!r}.")


async def _session_principal(request: GatewayRequest) -> Principal | None:
    check = request.gateway.session_check
    # Only the UI sends this header; skip the session machinery for everyone else.
    if check is None or "x-keyhouse-client" not in request.headers:
        return None
    # The session lives in the database: look it up off the event loop.
    return await anyio.to_thread.run_sync(check, request.starlette())
