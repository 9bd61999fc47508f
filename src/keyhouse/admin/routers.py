"""Every admin API router, in one list: the app factory and the OpenAPI printer both mount
these, so the served schema and the generated client cannot drift apart."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.params import Depends as DependsParam
from fastapi.routing import APIRoute

from keyhouse.admin import (
    audit_routes,
    endpoints_routes,
    keys_routes,
    meta_routes,
    providers_routes,
    session_routes,
    tokens_routes,
)
from keyhouse.admin.error_docs import document
from keyhouse.text_rules import check_request_text

ROUTERS: tuple[APIRouter, ...] = (
    keys_routes.router,
    endpoints_routes.router,
    providers_routes.router,
    tokens_routes.router,
    audit_routes.router,
    meta_routes.router,
    session_routes.router,
)

for _router in ROUTERS:
    for _route in _router.routes:
        if isinstance(_route, APIRoute):
            document(_route)

# Mounted with every admin router: path and query text is checked like body text.
DEPENDENCIES: list[DependsParam] = [Depends(check_request_text)]
