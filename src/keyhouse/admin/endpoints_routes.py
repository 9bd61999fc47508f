"""``/api/v1/endpoints``"""

from __future__ import annotations

from fastapi import APIRouter, Response

from keyhouse.admin.deps import AdminDep, IfMatchDep, ServicesDep
from keyhouse.admin.error_docs import errors
from keyhouse.admin.schemas import EndpointCreate, EndpointList, EndpointUpdate, EndpointView

router = APIRouter(prefix="/api/v1/endpoints", tags=["endpoints"])


@router.get("", response_model=EndpointList)
def list_endpoints(admin: AdminDep, services: ServicesDep) -> EndpointList:
    return EndpointList(endpoints=services.endpoints.list())


@router.post("", status_code=201, response_model=EndpointView, responses=errors(409))
def create_endpoint(body: EndpointCreate, admin: AdminDep, services: ServicesDep) -> EndpointView:
    return services.endpoints.create(body, admin.actor)


@router.get("/{endpoint_id}", response_model=EndpointView)
def get_endpoint(endpoint_id: str, admin: AdminDep, services: ServicesDep) -> EndpointView:
    return services.endpoints.get(endpoint_id)


@router.patch("/{endpoint_id}", response_model=EndpointView, responses=errors(409))
def update_endpoint(
    endpoint_id: str,
    body: EndpointUpdate,
    admin: AdminDep,
    services: ServicesDep,
    version: IfMatchDep,
) -> EndpointView:
    return services.endpoints.update(endpoint_id, body, admin.actor, version)


@router.delete("/{endpoint_id}", status_code=204)
def delete_endpoint(endpoint_id: str, admin: AdminDep, services: ServicesDep) -> Response:
    services.endpoints.delete(endpoint_id, admin.actor)
    return Response(status_code=204)
