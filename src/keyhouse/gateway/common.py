"""What every gateway route shares: endpoint lookup and the start of a call."""

from __future__ import annotations

from typing import Any

from keyhouse.errors import BadRequest, ModelNotFound
from keyhouse.gateway.auth import authenticate, authorize
from keyhouse.gateway.context import CallContext
from keyhouse.gateway.dispatch import GatewayRequest
from keyhouse.gateway.types import Endpoint, Principal, Registry, Task
from keyhouse.gateway.upstream import Upstream

JSON = dict[str, Any]


def resolve_endpoint(registry: Registry, principal: Principal, name: str, task: Task) -> Endpoint:
    endpoint = registry.endpoint(name)
    if endpoint is None:
        raise ModelNotFound(f"No endpoint is named {name!r}.", param="model")
    authorize(principal, endpoint)
    if endpoint.task != task:
        route = "/v1/chat/completions" if endpoint.task == "chat" else "/v1/embeddings"
        raise BadRequest(
            f"The endpoint {name!r} serves {endpoint.task}; call {route}.", param="model"
        )
    return endpoint


def upstream_of(request: GatewayRequest) -> Upstream:
    upstream = request.gateway.upstream
    if upstream is None:  # only before the lifespan ran: a wiring bug, not the caller's
        raise RuntimeError("the gateway's upstream client is not started")
    return upstream


async def begin(
    request: GatewayRequest, ctx: CallContext, name: str, task: Task, stream: bool, body: JSON
) -> Endpoint:
    """Resolve and admit one call: the endpoint it names, checked against the caller
    (``ctx.principal``), then every admission hook (limits: keyhouse.limits.hooks)."""
    assert ctx.principal is not None
    endpoint = resolve_endpoint(request.gateway.registry, ctx.principal, name, task)
    ctx.endpoint = endpoint.name
    ctx.stream = stream
    await request.gateway.admit(ctx, endpoint, body)
    return endpoint


async def caller(request: GatewayRequest, ctx: CallContext) -> Principal:
    ctx.principal = await authenticate(request)
    return ctx.principal
