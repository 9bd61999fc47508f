"""``/api/v1`` providers, access tokens, audit trail, web session, OpenAPI schema."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import select

from keyhouse.admin.auth import SESSION_COOKIE
from keyhouse.admin.deps import AdminDep, ServicesDep
from keyhouse.admin.schemas import (
    AccessTokenCreate,
    AccessTokenCreated,
    AccessTokenList,
    AuditEvent,
    AuditList,
    AuthMethodView,
    FieldView,
    ProviderList,
    ProviderView,
    SessionCreate,
    SessionView,
)
from keyhouse.errors import Unauthorized
from keyhouse.providers.catalog import PROVIDERS, FieldSpec
from keyhouse.store.models import AuditEventRow

router = APIRouter(prefix="/api/v1")


def _field(f: FieldSpec) -> FieldView:
    return FieldView(name=f.name, label=f.label, required=f.required, secret=f.secret,
                     kind=f.kind, placeholder=f.placeholder, help=f.help, default=f.default)


@router.get("/providers", response_model=ProviderList, tags=["providers"])
def list_providers(admin: AdminDep) -> ProviderList:
    return ProviderList(providers=[
        ProviderView(
            id=p.id, display_name=p.display_name, chat=p.chat, embeddings=p.embeddings,
            default_base_url=p.default_base_url,
            auth_methods=[AuthMethodView(
                id=m.id, label=m.label, ambient=m.ambient, notice=m.notice,
                secret_fields=[_field(f) for f in m.secret_fields],
                config_fields=[_field(f) for f in m.config_fields],
            ) for m in p.auth_methods])
        for p in PROVIDERS
    ])


@router.post("/access-tokens", status_code=201, response_model=AccessTokenCreated,
             tags=["access-tokens"])
def create_access_token(body: AccessTokenCreate, admin: AdminDep,
                        services: ServicesDep) -> AccessTokenCreated:
    created = services.tokens.create(body, admin.actor)
    services.registry.load()
    return created


@router.get("/access-tokens", response_model=AccessTokenList, tags=["access-tokens"])
def list_access_tokens(admin: AdminDep, services: ServicesDep) -> AccessTokenList:
    return AccessTokenList(access_tokens=services.tokens.list())


@router.delete("/access-tokens/{token_id}", status_code=204, tags=["access-tokens"])
def delete_access_token(token_id: str, admin: AdminDep, services: ServicesDep) -> Response:
    services.tokens.delete(token_id, admin.actor)
    services.registry.load()
    return Response(status_code=204)


@router.get("/audit", response_model=AuditList, tags=["audit"])
def list_audit(admin: AdminDep, services: ServicesDep,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> AuditList:
    with services.store.read() as session:
        rows = session.scalars(select(AuditEventRow).order_by(AuditEventRow.id.desc())
                               .limit(limit))
        return AuditList(events=[AuditEvent(
            id=r.id, at=r.at, actor=r.actor, action=r.action, target_type=r.target_type,
            target_id=r.target_id, target_name=r.target_name, details=dict(r.details),
        ) for r in rows])


@router.get("/openapi.json", tags=["meta"], include_in_schema=False)
def openapi(request: Request, admin: AdminDep) -> dict[str, Any]:
    schema: dict[str, Any] = request.app.openapi()
    return schema


# --- web UI session: the only /api/v1 routes reachable without the admin token --------

@router.post("/session", status_code=204, tags=["session"])
def sign_in(body: SessionCreate, request: Request, services: ServicesDep) -> Response:
    if not services.registry.is_admin_token(body.token.strip()):
        raise Unauthorized("That is not the admin token.")
    session_id, expires = services.sessions.create()
    response = Response(status_code=204)
    response.set_cookie(
        SESSION_COOKIE, session_id, max_age=services.settings.session_ttl_seconds,
        expires=expires, path="/", httponly=True, samesite="strict",
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
