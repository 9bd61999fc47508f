"""``/api/v1/access-tokens``"""

from __future__ import annotations

from fastapi import APIRouter, Response

from keyhouse.admin.deps import AdminDep, ServicesDep
from keyhouse.admin.schemas import (
    AccessTokenCreate,
    AccessTokenCreated,
    AccessTokenList,
    AccessTokenRotate,
    AccessTokenUpdate,
    AccessTokenView,
)
from keyhouse.admin.usage_routes import with_usage

router = APIRouter(prefix="/api/v1")


@router.post(
    "/access-tokens", status_code=201, response_model=AccessTokenCreated, tags=["access-tokens"]
)
def create_access_token(
    body: AccessTokenCreate, admin: AdminDep, services: ServicesDep
) -> AccessTokenCreated:
    return services.tokens.create(body, admin.actor)


@router.get("/access-tokens", response_model=AccessTokenList, tags=["access-tokens"])
def list_access_tokens(admin: AdminDep, services: ServicesDep) -> AccessTokenList:
    return AccessTokenList(
        access_tokens=with_usage(services.store, "token", services.tokens.list())
    )


@router.get("/access-tokens/{token_id}", response_model=AccessTokenView, tags=["access-tokens"])
def get_access_token(token_id: str, admin: AdminDep, services: ServicesDep) -> AccessTokenView:
    return with_usage(services.store, "token", [services.tokens.get(token_id)])[0]


@router.patch("/access-tokens/{token_id}", response_model=AccessTokenView, tags=["access-tokens"])
def update_access_token(
    token_id: str, body: AccessTokenUpdate, admin: AdminDep, services: ServicesDep
) -> AccessTokenView:
    view = services.tokens.update(token_id, body, admin.actor)
    return with_usage(services.store, "token", [view])[0]


@router.post(
    "/access-tokens/{token_id}/rotate", response_model=AccessTokenCreated, tags=["access-tokens"]
)
def rotate_access_token(
    token_id: str, admin: AdminDep, services: ServicesDep, body: AccessTokenRotate | None = None
) -> AccessTokenCreated:
    """A new secret, shown once; the old one keeps working for ``grace_seconds``."""
    rotated = services.tokens.rotate(token_id, body or AccessTokenRotate(), admin.actor)
    return rotated


@router.delete("/access-tokens/{token_id}", status_code=204, tags=["access-tokens"])
def delete_access_token(token_id: str, admin: AdminDep, services: ServicesDep) -> Response:
    services.tokens.delete(token_id, admin.actor)
    return Response(status_code=204)
