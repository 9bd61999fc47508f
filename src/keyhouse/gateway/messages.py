"""``POST /v1/messages`` and ``/v1/messages/count_tokens``: Anthropic's Messages API in
front of any provider.

Per target of the endpoint: a provider that speaks the Messages API (Anthropic; Claude on
Bedrock and on Vertex AI, in those platforms' own envelope) gets the body as the caller
sent it — thinking, ``cache_control``, ``top_k``, server tools, documents, citations —
with the target's model and the caller's ``anthropic-version`` and ``anthropic-beta``
headers, and the answer (or its event stream) comes back untouched but
for the model name (the endpoint's) and the redaction of the key's secret. Any other
provider is served through chat completions: the body becomes an OpenAI chat body
(``anthropic_inbound``) and the answer is turned back into a Message or its events
(``anthropic_inbound_answer``).
Errors use Anthropic's envelope (the app's handler picks it by path).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from keyhouse.gateway.body import model_name, wants_stream
from keyhouse.gateway.common import begin, caller, upstream_of
from keyhouse.gateway.context import CallContext
from keyhouse.gateway.dispatch import Answer, EventStreamAnswer, GatewayRequest, JSONAnswer
from keyhouse.gateway.routing import OpenStream, close_iterator
from keyhouse.gateway.streaming import named_event, report_stream_end
from keyhouse.providers.anthropic_answer import openai_usage
from keyhouse.providers.anthropic_inbound import anthropic_to_openai_request
from keyhouse.providers.anthropic_inbound_answer import (
    OpenAIStreamToAnthropic,
    openai_to_anthropic_response,
)
from keyhouse.providers.base import Call, Credential, ProviderAdapter
from keyhouse.providers.native import native_messages, scrubbed
from keyhouse.providers.token_estimate import estimate_input_tokens
from keyhouse.shared.envelopes import anthropic_error

log = logging.getLogger("keyhouse.gateway")

JSON = dict[str, Any]

FORWARDED = ("anthropic-version", "anthropic-beta")
COUNT_HEADER = "x-keyhouse-token-count"


def _forwarded(request: GatewayRequest) -> dict[str, str]:
    return {name: value for name in FORWARDED if (value := request.headers.get(name))}


def _usage(usage: Any) -> JSON | None:
    """A Messages usage in the OpenAI shape the call's record reads."""
    return openai_usage(usage) if isinstance(usage, dict) else None


def _renamed(event: JSON, name: str, credential: Credential) -> JSON:
    if event.get("type") == "message_start" and isinstance(event.get("message"), dict):
        event["message"]["model"] = name
    return scrubbed(event, credential)


async def _once(
    name: str,
    headers: Mapping[str, str],
    ctx: CallContext,
    adapter: ProviderAdapter,
    call: Call,
    body: JSON,
) -> JSON:
    native = native_messages(adapter, call)
    if native is not None:
        answer = await native.messages(call, body, headers)
        answer["model"] = name
        ctx.usage = _usage(answer.get("usage"))
        return scrubbed(answer, call.credential)
    chat = await adapter.chat(call, anthropic_to_openai_request(body))
    ctx.answered(chat)
    return openai_to_anthropic_response(chat, name)


async def _native_events(
    events: AsyncIterator[JSON], name: str, credential: Credential, ctx: CallContext
) -> AsyncIterator[JSON]:
    usage: JSON = {}
    try:
        async for event in events:
            # message_start carries the input side of usage, message_delta the output.
            kind = event.get("type")
            if kind == "message_start":
                usage.update((event.get("message") or {}).get("usage") or {})
            elif kind == "message_delta":
                usage.update(event.get("usage") or {})
                ctx.usage = _usage(usage)
            yield _renamed(event, name, credential)
    finally:
        await close_iterator(events)


async def _translated_events(
    chunks: AsyncIterator[JSON], name: str, ctx: CallContext
) -> AsyncIterator[JSON]:
    converter = OpenAIStreamToAnthropic(name)
    try:
        async for chunk in chunks:
            if chunk.get("usage"):
                ctx.usage = chunk["usage"]
            for _kind, data in converter.feed(chunk):
                yield data
        for _kind, data in converter.finish():
            yield data
    finally:
        await close_iterator(chunks)


async def _open(
    name: str,
    headers: Mapping[str, str],
    ctx: CallContext,
    adapter: ProviderAdapter,
    call: Call,
    body: JSON,
) -> OpenStream:
    native = native_messages(adapter, call)
    events: AsyncIterator[JSON]
    if native is not None:
        events = _native_events(
            native.messages_stream(call, body, headers), name, call.credential, ctx
        )
    else:
        chat = anthropic_to_openai_request({**body, "stream": True})
        chat.pop("stream", None)
        events = _translated_events(adapter.chat_stream(call, chat), name, ctx)
    try:
        first: JSON | None = await anext(events)
    except StopAsyncIteration:
        first = None
    except BaseException:
        await close_iterator(events)
        raise
    return OpenStream(first, events, call.credential)


async def _frames(stream: OpenStream, ctx: CallContext) -> AsyncIterator[bytes]:
    """Each event as ``event: <type>``; a failure after the first byte ends the stream
    with Anthropic's ``error`` event (the SDK raises on it)."""
    try:
        if stream.first is not None:
            yield named_event(str(stream.first.get("type")), stream.first)
        async for event in stream.rest:
            yield named_event(str(event.get("type")), event)
    except Exception as exc:
        code = report_stream_end(exc, stream, "messages stream", log)
        status, envelope = anthropic_error(exc)
        ctx.failed(status, code)
        yield named_event("error", envelope)
    finally:
        await stream.aclose()


async def messages(request: GatewayRequest, ctx: CallContext) -> Answer:
    await caller(request, ctx)
    body = await request.json()
    name = model_name(body)
    stream = wants_stream(body)
    endpoint = await begin(request, ctx, name, "chat", stream, body)
    headers = _forwarded(request)
    gateway = request.gateway
    if stream:
        opened = await gateway.router.run(
            gateway.registry,
            upstream_of(request),
            endpoint,
            body,
            functools.partial(_open, name, headers, ctx),
            ctx,
        )
        return EventStreamAnswer(_frames(opened, ctx))
    answer = await gateway.router.run(
        gateway.registry,
        upstream_of(request),
        endpoint,
        body,
        functools.partial(_once, name, headers, ctx),
        ctx,
    )
    return JSONAnswer(answer)


async def _count(
    headers: Mapping[str, str], adapter: ProviderAdapter, call: Call, body: JSON
) -> tuple[JSON, str]:
    native = native_messages(adapter, call)
    if native is not None:
        return scrubbed(await native.count_tokens(call, body, headers), call.credential), "native"
    return {"input_tokens": estimate_input_tokens(body)}, "estimate"


async def count_tokens(request: GatewayRequest, ctx: CallContext) -> Answer:
    """Native where the target speaks the Messages API; otherwise an estimate, which the
    ``x-keyhouse-token-count`` header says (``native`` or ``estimate``)."""
    await caller(request, ctx)
    body = await request.json()
    endpoint = await begin(request, ctx, model_name(body), "chat", False, body)
    gateway = request.gateway
    answer, kind = await gateway.router.run(
        gateway.registry,
        upstream_of(request),
        endpoint,
        body,
        functools.partial(_count, _forwarded(request)),
        ctx,
    )
    return JSONAnswer(answer, headers=[(COUNT_HEADER.encode(), kind.encode())])
