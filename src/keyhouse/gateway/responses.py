"""``POST /v1/responses``: OpenAI's Responses API in front of any provider.

Per target of the endpoint: a provider that speaks the Responses API natively (OpenAI)
gets the body as sent, with the target's model; any other is served through its chat
completions adapter, the body and the answer (or its event stream) translated by the
pure functions in ``providers.responses_request``, ``responses_answer`` and ``responses_stream``.
Either way the caller sees the endpoint name as the model.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from typing import Any

from keyhouse.errors import BadRequest
from keyhouse.gateway.body import model_name, wants_stream
from keyhouse.gateway.common import begin, caller, upstream_of
from keyhouse.gateway.context import CallContext
from keyhouse.gateway.dispatch import Answer, EventStreamAnswer, GatewayRequest, JSONAnswer
from keyhouse.gateway.routing import OpenStream, close_iterator
from keyhouse.gateway.streaming import named_event, report_stream_end
from keyhouse.providers.base import Call, Credential, ProviderAdapter
from keyhouse.providers.native import native_responses, scrubbed
from keyhouse.providers.responses_answer import chat_to_response
from keyhouse.providers.responses_request import responses_to_chat
from keyhouse.providers.responses_stream import ChatStreamToResponses, failure_events
from keyhouse.shared.envelopes import openai_error
from keyhouse.usage.record import CACHE_WRITE

log = logging.getLogger("keyhouse.gateway")

JSON = dict[str, Any]

_LAST = {"response.completed", "response.incomplete", "response.failed"}


def _check(body: JSON) -> None:
    if body.get("input") is None and not body.get("previous_response_id"):
        raise BadRequest("'input' is required: a string or a list of input items.", param="input")


def openai_usage(usage: Any) -> JSON | None:
    """A Responses usage in the chat shape the call's record reads."""
    if not isinstance(usage, dict):
        return None
    prompt, completion = usage.get("input_tokens") or 0, usage.get("output_tokens") or 0
    details = usage.get("input_tokens_details") or {}
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": usage.get("total_tokens") or prompt + completion,
        "prompt_tokens_details": {
            "cached_tokens": details.get("cached_tokens") or 0,
            CACHE_WRITE: details.get(CACHE_WRITE) or 0,
        },
    }


def _renamed(event: JSON, name: str, credential: Credential) -> JSON:
    response = event.get("response")
    if isinstance(response, dict):
        response["model"] = name
    return scrubbed(event, credential)


async def _once(
    name: str, ctx: CallContext, adapter: ProviderAdapter, call: Call, body: JSON
) -> JSON:
    native = native_responses(adapter, call.credential)
    if native is not None:
        answer = await native.responses(call, body)
        answer["model"] = name
        ctx.usage = openai_usage(answer.get("usage"))
        return scrubbed(answer, call.credential)
    chat = await adapter.chat(call, responses_to_chat(body))
    ctx.answered(chat)
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
    """One try at opening the stream on one target (events are dicts, usage is read by
    ``_frames`` from the last one)."""
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


async def _frames(stream: OpenStream, ctx: CallContext) -> AsyncIterator[bytes]:
    """Each event as ``event: <type>``; a failure after the first byte ends the stream
    with an ``error`` event and ``response.failed``, numbered after the last event."""
    sequence, response, finished = -1, None, False
    try:
        async for event in _all(stream):
            sequence = event.get("sequence_number", sequence)
            if isinstance(event.get("response"), dict):
                response = event["response"]
            finished = finished or event.get("type") in _LAST
            if event.get("type") in _LAST and isinstance(response, dict):
                ctx.usage = openai_usage(response.get("usage"))
            yield named_event(str(event.get("type")), event)
    except Exception as exc:
        code = report_stream_end(exc, stream, "responses stream", log)
        if not finished:
            status, envelope = openai_error(exc)
            ctx.failed(status, code)
            error = envelope["error"]
            for event in failure_events(sequence, response, error["code"], error["message"]):
                yield named_event(event["type"], event)
    finally:
        await stream.aclose()


async def responses(request: GatewayRequest, ctx: CallContext) -> Answer:
    await caller(request, ctx)
    body = await request.json()
    name = model_name(body)
    stream = wants_stream(body)
    endpoint = await begin(request, ctx, name, "chat", stream, body)
    _check(body)
    gateway = request.gateway
    if stream:
        opened = await gateway.router.run(
            gateway.registry,
            upstream_of(request),
            endpoint,
            body,
            functools.partial(_open, name),
            ctx,
        )
        return EventStreamAnswer(_frames(opened, ctx))
    answer = await gateway.router.run(
        gateway.registry,
        upstream_of(request),
        endpoint,
        body,
        functools.partial(_once, name, ctx),
        ctx,
    )
    return JSONAnswer(answer)
