"""``POST /v1/responses``: OpenAI's Responses API in front of any provider.

Per target of the endpoint: a provider that speaks the Responses API natively (OpenAI)
gets the body as sent, with the target's model; any other is served through its chat
completions adapter, the body and the answer (or its event stream) translated by the
pure functions in ``providers.responses_convert`` and ``providers.responses_stream``.
Either way the caller sees the endpoint name as the model.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from keyhouse.errors import BadRequest, KeyhouseError
from keyhouse.gateway.auth import authenticate
from keyhouse.gateway.body import model_name, read_json, wants_stream
from keyhouse.gateway.common import gateway_router, json_response, registry_of, resolve_endpoint
from keyhouse.gateway.errors import openai_error
from keyhouse.gateway.routing import OpenStream, close_iterator, log_unexpected
from keyhouse.gateway.streaming import SSE_HEADERS, SSE_MEDIA_TYPE, named_event
from keyhouse.providers.base import Call, Credential, ProviderAdapter
from keyhouse.providers.native import native_responses, scrubbed
from keyhouse.providers.responses_convert import chat_to_response, responses_to_chat
from keyhouse.providers.responses_stream import ChatStreamToResponses, failure_events

log = logging.getLogger("keyhouse.gateway")

JSON = dict[str, Any]

_LAST = {"response.completed", "response.incomplete", "response.failed"}


def _check(body: JSON) -> None:
    if body.get("input") is None and not body.get("previous_response_id"):
        raise BadRequest("'input' is required: a string or a list of input items.", param="input")


def _renamed(event: JSON, name: str, credential: Credential) -> JSON:
    response = event.get("response")
    if isinstance(response, dict):
        response["model"] = name
    return scrubbed(event, credential)


async def _once(name: str, adapter: ProviderAdapter, call: Call, body: JSON) -> JSON:
    native = native_responses(adapter, call.credential)
    if native is not None:
        answer = await native.responses(call, body)
        answer["model"] = name
        return scrubbed(answer, call.credential)
    chat = await adapter.chat(call, responses_to_chat(body))
    return chat_to_response(chat, body, name)


async def _native_events(
    events: AsyncIterator[JSON], name: str, credential: Credential
) -> AsyncIterator[JSON]:
    try:
        async for event in events:
            yield _renamed(event, name, credential)
    finally:
        await close_iterator(events)


async def _translated_events(
    chunks: AsyncIterator[JSON], body: JSON, name: str
) -> AsyncIterator[JSON]:
    converter = ChatStreamToResponses(body, name)
    try:
        async for chunk in chunks:
            for event in converter.feed(chunk):
                yield event
        for event in converter.finish():
            yield event
    finally:
        await close_iterator(chunks)


async def _open(name: str, adapter: ProviderAdapter, call: Call, body: JSON) -> OpenStream:
    native = native_responses(adapter, call.credential)
    events: AsyncIterator[JSON]
    if native is not None:
        events = _native_events(
            native.responses_stream(call, {**body, "stream": True}), name, call.credential
        )
    else:
        chat = responses_to_chat({**body, "stream": True})
        events = _translated_events(adapter.chat_stream(call, chat), body, name)
    try:
        first: JSON | None = await anext(events)
    except StopAsyncIteration:
        first = None
    except BaseException:
        await close_iterator(events)
        raise
    return OpenStream(first, events, call.credential)


async def _all(stream: OpenStream) -> AsyncIterator[JSON]:
    if stream.first is not None:
        yield stream.first
    async for event in stream.rest:
        yield event


async def _frames(stream: OpenStream) -> AsyncIterator[bytes]:
    """Each event as ``event: <type>``; a failure after the first byte ends the stream
    with an ``error`` event and ``response.failed``, numbered after the last event."""
    sequence, response, finished = -1, None, False
    try:
        async for event in _all(stream):
            sequence = event.get("sequence_number", sequence)
            if isinstance(event.get("response"), dict):
                response = event["response"]
            finished = finished or event.get("type") in _LAST
            yield named_event(str(event.get("type")), event)
    except Exception as exc:
        if isinstance(exc, KeyhouseError):
            log.warning(
                "responses stream from %s ended early: %s %s",
                stream.credential.provider,
                exc.code,
                stream.credential.redact(exc.message),
            )
        else:
            log_unexpected(
                exc, f"responses stream from {stream.credential.provider}", stream.credential
            )
        if not finished:
            error = openai_error(exc)[1]["error"]
            for event in failure_events(sequence, response, error["code"], error["message"]):
                yield named_event(event["type"], event)
    finally:
        await stream.aclose()


async def responses(request: Request) -> Response:
    principal = await authenticate(request)
    body = await read_json(request)
    name = model_name(body)
    registry = registry_of(request)
    endpoint = resolve_endpoint(registry, principal, name, "chat")
    stream = wants_stream(body)
    _check(body)
    router = gateway_router(request)
    client = request.app.state.http
    if stream:
        opened = await router.run(registry, client, endpoint, body, functools.partial(_open, name))
        return StreamingResponse(_frames(opened), media_type=SSE_MEDIA_TYPE, headers=SSE_HEADERS)
    answer = await router.run(registry, client, endpoint, body, functools.partial(_once, name))
    return json_response(answer)
