"""``POST /v1/messages``: the Anthropic Messages API in front of any provider.

The Messages body becomes an OpenAI chat body (``anthropic_inbound``), goes through the
same router as ``/v1/chat/completions`` — so any endpoint, whatever its provider, serves
Anthropic clients — and the answer is turned back into a Message or its event stream.
Errors use Anthropic's envelope (the app's handler picks it by path).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from keyhouse.gateway.auth import authenticate
from keyhouse.gateway.body import model_name, read_json, wants_stream
from keyhouse.gateway.common import (
    gateway_router,
    json_response,
    registry_of,
    resolve_endpoint,
)
from keyhouse.gateway.streaming import SSE_HEADERS, SSE_MEDIA_TYPE, anthropic_events
from keyhouse.providers.anthropic_convert import (
    anthropic_to_openai_request,
    openai_to_anthropic_response,
)
from keyhouse.usage.service import call_of


async def messages(request: Request) -> Response:
    principal = await authenticate(request)
    body = await read_json(request)
    name = model_name(body)
    registry = registry_of(request)
    endpoint = resolve_endpoint(registry, principal, name, "chat")
    chat_body = anthropic_to_openai_request(body)
    router_ = gateway_router(request)
    client = request.app.state.http
    stream = wants_stream(chat_body)
    call = call_of(request, principal, endpoint, "messages", stream)
    if stream:
        opened = await call.opening(router_.chat_stream(registry, client, endpoint, chat_body,
                                                        call))
        return StreamingResponse(anthropic_events(opened, name), media_type=SSE_MEDIA_TYPE,
                                 headers=SSE_HEADERS)
    answer = await call.complete(router_.chat(registry, client, endpoint, chat_body, call))
    return json_response(openai_to_anthropic_response(answer, name))
