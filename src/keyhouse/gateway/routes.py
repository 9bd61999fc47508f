"""The gateway API: OpenAI-compatible routes (and, from ``messages``, Anthropic's).

The hot path per request: authenticate the token against the in-memory registry, read
and parse the body once, look the endpoint up in memory, hand the dict to the router.
No database, no per-request HTTP client, no key derivation, no model of the whole body.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from keyhouse.gateway.auth import authenticate, authorize
from keyhouse.gateway.body import model_name, read_json, wants_stream
from keyhouse.gateway.common import (
    JSON_BODY,
    gateway_router,
    json_response,
    registry_of,
    resolve_endpoint,
)
from keyhouse.gateway.errors import ModelNotFound
from keyhouse.gateway.messages import messages
from keyhouse.gateway.streaming import SSE_HEADERS, SSE_MEDIA_TYPE, openai_events
from keyhouse.gateway.types import Endpoint, Principal

JSON = dict[str, Any]

router = APIRouter(tags=["gateway"])


@router.post("/v1/chat/completions", openapi_extra=JSON_BODY,
             summary="Chat completion (OpenAI format)")
async def chat_completions(request: Request,
                           principal: Principal = Depends(authenticate)) -> Response:
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


@router.post("/v1/embeddings", openapi_extra=JSON_BODY, summary="Embeddings (OpenAI format)")
async def embeddings(request: Request,
                     principal: Principal = Depends(authenticate)) -> Response:
    body = await read_json(request)
    registry = registry_of(request)
    endpoint = resolve_endpoint(registry, principal, model_name(body), "embeddings")
    result = await gateway_router(request).embeddings(
        registry, request.app.state.http, endpoint, body)
    return json_response(result)


def _model_view(endpoint: Endpoint) -> JSON:
    # ``created`` is required by the OpenAI schema; the registry does not carry it.
    return {"id": endpoint.name, "object": "model", "created": 0, "owned_by": "keyhouse"}


@router.get("/v1/models", summary="Endpoints this token may call (OpenAI format)")
async def list_models(request: Request,
                      principal: Principal = Depends(authenticate)) -> Response:
    data = [_model_view(e) for e in registry_of(request).endpoints() if principal.may_call(e)]
    return json_response({"object": "list", "data": data})


@router.get("/v1/models/{name:path}", summary="One endpoint (OpenAI format)")
async def get_model(name: str, request: Request,
                    principal: Principal = Depends(authenticate)) -> Response:
    endpoint = registry_of(request).endpoint(name)
    if endpoint is None:
        raise ModelNotFound(f"No endpoint is named {name!r}.", param="model")
    authorize(principal, endpoint)
    return json_response(_model_view(endpoint))


router.add_api_route("/v1/messages", messages, methods=["POST"], openapi_extra=JSON_BODY,
                     summary="Message (Anthropic format)")
