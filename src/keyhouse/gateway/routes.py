"""The gateway API: OpenAI-compatible routes (and, from ``messages``, Anthropic's).

The hot path per request: authenticate the token against the in-memory registry, read
and parse the body once, look the endpoint up in memory, hand the dict to the router.
No database, no per-request HTTP client, no key derivation, no model of the whole body.
A chat answer that needs no conversion is relayed as the upstream's bytes.
"""

from __future__ import annotations

from typing import Any

from keyhouse.errors import ModelNotFound
from keyhouse.gateway.auth import authorize
from keyhouse.gateway.body import model_name, wants_stream
from keyhouse.gateway.common import begin, caller, upstream_of
from keyhouse.gateway.context import CallContext
from keyhouse.gateway.dispatch import (
    Answer,
    EventStreamAnswer,
    Gateway,
    GatewayRequest,
    JSONAnswer,
)
from keyhouse.gateway.messages import count_tokens, messages
from keyhouse.gateway.responses import responses
from keyhouse.gateway.streaming import DONE, openai_events

JSON = dict[str, Any]


async def chat_completions(request: GatewayRequest, ctx: CallContext) -> Answer:
    await caller(request, ctx)
    body = await request.json()
    stream = wants_stream(body)
    endpoint = await begin(request, ctx, model_name(body), "chat", stream, body)
    gateway = request.gateway
    if stream:
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        opened = await gateway.router.chat_stream_relayed(
            gateway.registry, upstream_of(request), endpoint, body, include_usage, ctx
        )
        return EventStreamAnswer(openai_events(opened, include_usage, ctx), last=DONE)
    answer = await gateway.router.chat_relayed(
        gateway.registry, upstream_of(request), endpoint, body, ctx
    )
    ctx.answered(answer)
    return JSONAnswer(answer)


async def embeddings(request: GatewayRequest, ctx: CallContext) -> Answer:
    await caller(request, ctx)
    body = await request.json()
    endpoint = await begin(request, ctx, model_name(body), "embeddings", False, body)
    gateway = request.gateway
    result = await gateway.router.embeddings(
        gateway.registry, upstream_of(request), endpoint, body, ctx
    )
    ctx.answered(result)
    return JSONAnswer(result)


def _model_view(name: str) -> JSON:
    # ``created`` is required by the OpenAI schema; the registry does not carry it.
    return {"id": name, "object": "model", "created": 0, "owned_by": "keyhouse"}


async def list_models(request: GatewayRequest, ctx: CallContext) -> Answer:
    """Every endpoint the caller may call, under its name and each of its aliases."""
    principal = await caller(request, ctx)
    data = [
        _model_view(name)
        for e in request.gateway.registry.endpoints()
        if principal.may_call(e)
        for name in (e.name, *e.aliases)
    ]
    return JSONAnswer({"object": "list", "data": data})


async def get_model(request: GatewayRequest, ctx: CallContext) -> Answer:
    principal = await caller(request, ctx)
    name = request.path_param
    endpoint = request.gateway.registry.endpoint(name)
    if endpoint is None:
        raise ModelNotFound(f"No endpoint is named {name!r}.", param="model")
    authorize(principal, endpoint)
    return JSONAnswer(_model_view(name))


def install(gateway: Gateway) -> None:
    """The gateway's own routes."""
    gateway.add_route("/v1/chat/completions", "POST", chat_completions)
    gateway.add_route("/v1/embeddings", "POST", embeddings)
    gateway.add_route("/v1/models", "GET", list_models)
    gateway.add_route("/v1/models/{rest}", "GET", get_model)
    gateway.add_route("/v1/messages", "POST", messages)
    gateway.add_route("/v1/messages/count_tokens", "POST", count_tokens)
    gateway.add_route("/v1/responses", "POST", responses)
