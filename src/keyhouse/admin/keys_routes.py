"""``/api/v1/keys``"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from keyhouse.admin.deps import AdminDep, IfMatchDep, ServicesDep
from keyhouse.admin.error_docs import errors
from keyhouse.admin.key_versions import KeyVersions
from keyhouse.admin.schemas import (
    CredentialVersionList,
    KeyCheck,
    KeyCreate,
    KeyList,
    KeyUpdate,
    KeyView,
    Rollback,
    VerifyResult,
)
from keyhouse.admin.usage_routes import recent_callers, with_usage
from keyhouse.admin.verify import verify_key
from keyhouse.errors import KeyInUse, Unavailable

router = APIRouter(prefix="/api/v1/keys", tags=["keys"])


@router.get("", response_model=KeyList)
def list_keys(
    admin: AdminDep,
    services: ServicesDep,
    provider: Annotated[str | None, Query(max_length=64)] = None,
    search: Annotated[str | None, Query(max_length=200)] = None,
) -> KeyList:
    return KeyList(keys=with_usage(services.store, "key", services.keys.list(provider, search)))


@router.post("", status_code=201, response_model=KeyView, responses=errors(409))
def create_key(body: KeyCreate, admin: AdminDep, services: ServicesDep) -> KeyView:
    return services.keys.create(body, admin.actor)


@router.get("/{key_id}", response_model=KeyView)
def get_key(key_id: str, admin: AdminDep, services: ServicesDep) -> KeyView:
    return with_usage(services.store, "key", [services.keys.get(key_id)])[0]


@router.patch("/{key_id}", response_model=KeyView, responses=errors(409))
def update_key(
    key_id: str, body: KeyUpdate, admin: AdminDep, services: ServicesDep, version: IfMatchDep
) -> KeyView:
    return with_usage(
        services.store, "key", [services.keys.update(key_id, body, admin.actor, version)]
    )[0]


@router.delete("/{key_id}", status_code=204, responses=errors(409))
def delete_key(
    key_id: str, admin: AdminDep, services: ServicesDep, force: bool = False
) -> Response:
    try:
        services.keys.delete(key_id, admin.actor, force)
    except KeyInUse as exc:
        exc.details["recent_callers"] = recent_callers(services.store, key_id)
        raise
    return Response(status_code=204)


@router.get("/{key_id}/versions", response_model=CredentialVersionList)
def list_versions(key_id: str, admin: AdminDep, services: ServicesDep) -> CredentialVersionList:
    return CredentialVersionList(
        versions=KeyVersions(services.store, services.keyring).list(key_id)
    )


@router.post("/{key_id}/rollback", response_model=KeyView)
def rollback(
    key_id: str, body: Rollback, admin: AdminDep, services: ServicesDep, version: IfMatchDep
) -> KeyView:
    KeyVersions(services.store, services.keyring).rollback(
        key_id, body.version, admin.actor, version
    )
    return with_usage(services.store, "key", [services.keys.get(key_id)])[0]


@router.post("/{key_id}/verify", response_model=VerifyResult)
async def verify(
    key_id: str,
    request: Request,
    admin: AdminDep,
    services: ServicesDep,
    body: KeyCheck | None = None,
) -> VerifyResult:
    """Try the stored credential with the provider; with a body, try it as it would be
    after those changes, without saving them (the web form's "Save & test")."""
    gateway = request.app.state.gateway
    if gateway.upstream is None:  # only outside the lifespan, which makes the client
        raise Unavailable("The gateway is not serving yet.")
    return await verify_key(
        services.registry,
        gateway.upstream,
        gateway.router,
        key_id,
        body,
        allow_private=services.keys.allow_private,
    )
