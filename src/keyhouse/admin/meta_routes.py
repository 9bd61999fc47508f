"""``/api/v1/openapi.json``: the schema, behind the admin token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from keyhouse.admin.deps import AdminDep

router = APIRouter(prefix="/api/v1")


@router.get("/openapi.json", tags=["meta"], include_in_schema=False)
def openapi(request: Request, admin: AdminDep) -> dict[str, Any]:
    schema: dict[str, Any] = request.app.openapi()
    return schema
