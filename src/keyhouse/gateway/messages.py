"""``POST /v1/messages`` and ``/v1/messages/count_tokens``: Anthropic's Messages API in
front of any provider.

Per target of the endpoint: a provider that speaks the Messages API (Anthropic) gets the
body as the caller sent it — thinking, ``cache_control``, ``top_k``, server tools,
documents, citations — with the target's model and the caller's ``anthropic-version`` and
``anthropic-beta`` headers, and the answer (or its event stream) comes back untouched but
for the model name (the endpoint's) and the redaction of the key's secret. Any other
provider is served through chat completions: the body becomes an OpenAI chat body
(``anthropic_inbound``) and the answer is turned back into a Message or its events.
Errors use Anthropic's envelope (the app's handler picks it by path).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from keyhouse.errors import KeyhouseError
from keyhouse.gateway.auth import authenticate
from keyhouse.gateway.body import model_name, read_json, wants_stream
from keyhouse.gateway.common import gateway_router, json_response, registry_of, resolve_endpoint
from keyhouse.gateway.errors import anthropic_error
from keyhouse.gateway.routing import OpenStream, close_iterator, log_unexpected
from keyhouse.gateway.streaming import SSE_HEADERS, SSE_MEDIA_TYPE, named_event
from keyhouse.providers.anthropic_convert import (
    OpenAIStreamToAnthropic,
    anthropic_to_openai_request,
    openai_to_anthropic_response,
)
from keyhouse.providers.base import Call, Credential, ProviderAdapter
from keyhouse.providers.native import native_messages, scrubbed
from keyhouse.providers.token_estimate import estimate_input_tokens

log = logging.getLogger("keyhouse.gateway")

JSON = dict[str, Any]

FORWARDED = ("anthropic-version", "anthropic-beta")
COUNT_HEADER = "x-keyhouse-token-count"


def _forwarded(request: Request) -> dict[str, str]:
    return {name: value for name in FORWARDED if (value := request.headers.get(name))}


def _renamed(event: JSON, name: str, credential: Credential) -> JSON:
    if event.get("type") == "message_start" and isinstance(event.get("message"), dict):
        event["message"]["model"] = name
    return scrubbed(event, credential)


async def _once(name: str, headers: Mapping[str, str], adapter: ProviderAdapter, call: Call,
                body: JSON) -> JSON:
    native = native_messages(adapter, call.credential)
    if native is not None:
        answer = await native.messages(call, body, headers)
        answer["model"] = name
        return scrubbed(answer, call.credential)
    chat = await adapter.chat(call, anthropic_to_openai_request(body))
    return openai_to_anthropic_response(chat, name)


async def _native_events(events: AsyncIterator[JSON], name: str,
                         credential: Credential) -> AsyncIterator[JSON]:
    try:
        async for event in events:
            yield _renamed(event, name, credential)
    finally:
        await close_iterator(events)


async def _translated_events(chunks: AsyncIterator[JSON], name: str) -> AsyncIterator[JSON]:
    converter = OpenAIStreamToAnthropic(name)
    try:
        async for chunk in chunks:
            for _kind, data in converter.feed(chunk):
                yield data
        for _kind, data in converter.finish():
            yield data
    finally:
        await close_iterator(chunks)


async def _open(name: str, headers: Mapping[str, str], adapter: ProviderAdapter, call: Call,
                body: JSON) -> OpenStream:
    native = native_messages(adapter, call.credential)
    events: AsyncIterator[JSON]
    if native is not None:
        events = _native_events(native.messages_stream(call, body, headers), name,
                                call.credential)
    else:
        chat = anthropic_to_openai_request({**body, "stream": True})
        chat.pop("stream", None)
        events = _translated_events(adapter.chat_stream(call, chat), name)
    try:
        first: JSON | None = await anext(events)
    except StopAsyncIteration:
        first = None
    except BaseException:
        await close_iterator(events)
        raise
    return OpenStream(first, events, call.credential)


async def _frames(stream: OpenStream) -> AsyncIterator[bytes]:
    """Each event as ``event: <type>``; a failure after the first byte ends the stream
    with Anthropic's ``error`` event (the SDK raises on it)."""
    try:
        if stream.first is not None:
            yield named_event(str(stream.first.get("type")), stream.first)
        async for event in stream.rest:
            yield named_event(str(event.get("type")), event)
    except Exception as exc:
        if isinstance(exc, KeyhouseError):
            log.warning("messages stream from %s ended early: %s %s",
                        stream.credential.provider, exc.code,
                        stream.credential.redact(exc.message))
        else:
            log_unexpected(exc, f"messages stream from {stream.credential.provider}",
                           stream.credential)
        yield named_event("error", anthropic_error(exc)[1])
    finally:
        await stream.aclose()


async def messages(request: Request) -> Response:
    principal = await authenticate(request)
    body = await read_json(request)
    name = model_name(body)
    registry = registry_of(request)
    endpoint = resolve_endpoint(registry, principal, name, "chat")
    headers = _forwarded(request)
    router = gateway_router(request)
    client = request.app.state.http
    if wants_stream(body):
        opened = await router.run(registry, client, endpoint, body,
                                  functools.partial(_open, name, headers))
        return StreamingResponse(_frames(opened), media_type=SSE_MEDIA_TYPE,
                                 headers=SSE_HEADERS)
    answer = await router.run(registry, client, endpoint, body,
                              functools.partial(_once, name, headers))
    return json_response(answer)


async def _count(headers: Mapping[str, str], adapter: ProviderAdapter, call: Call,
                 body: JSON) -> tuple[JSON, str]:
    native = native_messages(adapter, call.credential)
    if native is not None:
        return scrubbed(await native.count_tokens(call, body, headers), call.credential), \
            "native"
    return {"input_tokens": estimate_input_tokens(body)}, "estimate"


async def count_tokens(request: Request) -> Response:
    """Native where the target speaks the Messages API; otherwise an estimate, which the
    ``x-keyhouse-token-count`` header says (``native`` or ``estimate``)."""
    principal = await authenticate(request)
    body = await read_json(request)
    name = model_name(body)
    registry = registry_of(request)
    endpoint = resolve_endpoint(registry, principal, name, "chat")
    answer, kind = await gateway_router(request).run(
        registry, request.app.state.http, endpoint, body,
        functools.partial(_count, _forwarded(request)))
    response = json_response(answer)
    response.headers[COUNT_HEADER] = kind
    return response
