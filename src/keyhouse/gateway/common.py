"""What every gateway route shares: the retry router, the registry, endpoint lookup."""

from __future__ import annotations

import json
import random
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from keyhouse.errors import BadRequest
from keyhouse.gateway.auth import authorize
from keyhouse.gateway.errors import ModelNotFound
from keyhouse.gateway.routing import Router
from keyhouse.gateway.types import Endpoint, Principal, Registry, Task

JSON = dict[str, Any]

_default_router = Router(random.Random())  # noqa: S311 (load balancing, not crypto)


def gateway_router(request: Request) -> Router:
    """``app.state.gateway_router`` when the app set one (tests seed its RNG)."""
    custom = getattr(request.app.state, "gateway_router", None)
    return custom if isinstance(custom, Router) else _default_router


def registry_of(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def resolve_endpoint(registry: Registry, principal: Principal, name: str,
                     task: Task) -> Endpoint:
    endpoint = registry.endpoint(name)
    if endpoint is None:
        raise ModelNotFound(f"No endpoint is named {name!r}.", param="model")
    authorize(principal, endpoint)
    if endpoint.task != task:
        route = "/v1/chat/completions" if endpoint.task == "chat" else "/v1/embeddings"
        raise BadRequest(f"The endpoint {name!r} serves {endpoint.task}; call {route}.",
                         param="model")
    return endpoint


def json_response(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode(),
                    status_code=status, media_type="application/json")
