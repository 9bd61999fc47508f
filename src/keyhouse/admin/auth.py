"""Admin authentication: the admin bearer token, or the web UI's session cookie.

Cookie-authenticated writes also need the ``X-Keyhouse-Client: web`` header: a
cross-site form cannot set a custom header, and a cross-site script that tries triggers a
CORS preflight this server never approves. That is the CSRF defence.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from keyhouse.errors import Forbidden, Unauthorized
from keyhouse.shared.session import CLIENT_HEADER, SESSION_COOKIE

__all__ = ["CLIENT_HEADER", "SESSION_COOKIE", "Admin", "bearer", "require_admin"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True, slots=True)
class Admin:
    actor: str  # what the audit trail records: never a token
    session_id: str | None = None


def bearer(request: Request) -> str | None:
    value = request.headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Use 'Authorization: Bearer <admin token>'.")
    return token.strip()


def require_admin(request: Request) -> Admin:
    services = request.app.state.services
    token = bearer(request)
    if token is not None:
        if services.registry.is_admin_token(token):
            return Admin(actor="admin-token")
        raise Unauthorized("That token is not the admin token.")
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        if services.sessions.lookup(session_id) is None:
            raise Unauthorized("Your session has expired; sign in again.")
        if request.method not in SAFE_METHODS and request.headers.get(CLIENT_HEADER) != "web":
            raise Forbidden("Cross-site request refused.", reason="csrf")
        return Admin(actor="web-session", session_id=session_id)
    raise Unauthorized()
