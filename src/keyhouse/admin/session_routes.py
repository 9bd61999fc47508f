"""``/api/v1/session``: the web UI's sign-in, the only /api/v1 routes reachable without the
admin token."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from keyhouse.admin.auth import SESSION_COOKIE
from keyhouse.admin.deps import ServicesDep
from keyhouse.admin.error_docs import errors
from keyhouse.admin.schemas import SessionCreate, SessionView
from keyhouse.errors import Unauthorized

router = APIRouter(prefix="/api/v1")


@router.post("/session", status_code=204, tags=["session"], responses=errors(401))
def sign_in(body: SessionCreate, request: Request, services: ServicesDep) -> Response:
    if not services.registry.is_admin_token(body.token.strip()):
        raise Unauthorized("That is not the admin token.")
    session_id, expires = services.sessions.create()
    response = Response(status_code=204)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=services.settings.session_ttl_seconds,
        expires=expires,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/session", response_model=SessionView, tags=["session"])
def get_session(request: Request, services: ServicesDep) -> SessionView:
    session_id = request.cookies.get(SESSION_COOKIE)
    # "Not signed in" is an answer here, not an error: the UI asks on every page load.
    expires = services.sessions.lookup(session_id) if session_id else None
    return SessionView(signed_in=expires is not None, expires_at=expires)


@router.delete("/session", status_code=204, tags=["session"])
def sign_out(request: Request, services: ServicesDep) -> Response:
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        services.sessions.end(session_id)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
