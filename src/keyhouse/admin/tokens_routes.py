"""``/api/v1/access-tokens``"""

from __future__ import annotations

from fastapi import APIRouter, Response

from keyhouse.admin.deps import AdminDep, ServicesDep
from keyhouse.admin.schemas import AccessTokenCreate, AccessTokenCreated, AccessTokenList

router = APIRouter(prefix="/api/v1")


@router.post("/access-tokens", status_code=201, response_model=AccessTokenCreated,
             tags=["access-tokens"])
def create_access_token(body: AccessTokenCreate, admin: AdminDep,
                        services: ServicesDep) -> AccessTokenCreated:
    return services.tokens.create(body, admin.actor)


@router.get("/access-tokens", response_model=AccessTokenList, tags=["access-tokens"])
def list_access_tokens(admin: AdminDep, services: ServicesDep) -> AccessTokenList:
    return AccessTokenList(access_tokens=services.tokens.list())


@router.delete("/access-tokens/{token_id}", status_code=204, tags=["access-tokens"])
def delete_access_token(token_id: str, admin: AdminDep, services: ServicesDep) -> Response:
    services.tokens.delete(token_id, admin.actor)
    return Response(status_code=204)
