"""The gateway API: OpenAI-compatible routes (and, from ``messages``, Anthropic's).

The hot path per request: authenticate the token against the in-memory registry, read
and parse the body once, look the endpoint up in memory, hand the dict to the router.
No database, no per-request HTTP client, no key derivation, no model of the whole body.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from keyhouse.gateway.auth import authenticate, authorize
from keyhouse.gateway.body import model_name, read_json, wants_stream
from keyhouse.gateway.common import (
    gateway_router,
    json_response,
    registry_of,
    resolve_endpoint,
)
from keyhouse.gateway.errors import ModelNotFound
from keyhouse.gateway.messages import count_tokens, messages
from keyhouse.gateway.responses import responses
from keyhouse.gateway.streaming import SSE_HEADERS, SSE_MEDIA_TYPE, openai_events

JSON = dict[str, Any]

# Plain Starlette routes: the gateway reads its JSON itself, so FastAPI's dependency
# solving and response validation would only add time to every request.
router = APIRouter(tags=["gateway"])


async def chat_completions(request: Request) -> Response:
    principal = await authenticate(request)
    body = await read_json(request)
    registry = registry_of(request)
    endpoint = resolve_endpoint(registry, principal, model_name(body), "chat")
    router_ = gateway_router(request)
    client = request.app.state.http
    if wants_stream(body):
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        opened = await router_.chat_stream(registry, client, endpoint, body)
        return StreamingResponse(openai_events(opened, include_usage),
                                 media_type=SSE_MEDIA_TYPE, headers=SSE_HEADERS)
    return json_response(await router_.chat(registry, client, endpoint, body))


async def embeddings(request: Request) -> Response:
    principal = await authenticate(request)
    body = await read_json(request)
    registry = registry_of(request)
    endpoint = resolve_endpoint(registry, principal, model_name(body), "embeddings")
    result = await gateway_router(request).embeddings(
        registry, request.app.state.http, endpoint, body)
    return json_response(result)


def _model_view(name: str) -> JSON:
    # ``created`` is required by the OpenAI schema; the registry does not carry it.
    return {"id": name, "object": "model", "created": 0, "owned_by": "keyhouse"}


async def list_models(request: Request) -> Response:
    """Every endpoint the caller may call, under its name and each of its aliases."""
    principal = await authenticate(request)
    data = [_model_view(name) for e in registry_of(request).endpoints()
            if principal.may_call(e) for name in (e.name, *e.aliases)]
    return json_response({"object": "list", "data": data})


async def get_model(request: Request) -> Response:
    principal = await authenticate(request)
    name = request.path_params["name"]
    endpoint = registry_of(request).endpoint(name)
    if endpoint is None:
        raise ModelNotFound(f"No endpoint is named {name!r}.", param="model")
    authorize(principal, endpoint)
    return json_response(_model_view(name))


router.add_route("/v1/chat/completions", chat_completions, methods=["POST"])
router.add_route("/v1/embeddings", embeddings, methods=["POST"])
router.add_route("/v1/models", list_models, methods=["GET"])
router.add_route("/v1/models/{name:path}", get_model, methods=["GET"])
router.add_route("/v1/messages", messages, methods=["POST"])
router.add_route("/v1/messages/count_tokens", count_tokens, methods=["POST"])
router.add_route("/v1/responses", responses, methods=["POST"])
