"""Reading a stream of Anthropic Messages events, wherever it comes from: server-sent
events from Anthropic and from Claude on Vertex AI, event-stream ``chunk`` payloads from
Claude on Bedrock. One owner for what every native Messages stream shares: an ``error``
event after the 200 becomes the UpstreamError its type stands for, and a stream that ends
before ``message_stop`` is a failed answer, not a short one.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import orjson

from keyhouse.errors import UpstreamError, UpstreamUnavailable
from keyhouse.gateway.send import Stream
from keyhouse.providers.anthropic_answer import AnthropicStreamToOpenAI
from keyhouse.providers.base import JSON, Call, upstream_error

# Anthropic's error types and the HTTP status each stands for, for errors that arrive
# as an ``error`` event after the stream began with 200.
ERROR_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def stream_error(call: Call, payload: JSON, raw: str) -> UpstreamError:
    kind = (payload.get("error") or {}).get("type", "")
    return upstream_error(ERROR_STATUS.get(kind, 500), raw, call.credential)


def parse_event(call: Call, event: str, data: str | bytes) -> JSON:
    """One event's JSON; an ``error`` event raises."""
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        payload = None
    if not isinstance(payload, dict):
        raise UpstreamError(
            f"Upstream ({call.credential.provider}) sent a stream event that is not JSON."
        )
    if event == "error" or payload.get("type") == "error":
        raw = data if isinstance(data, str) else data.decode("utf-8", "replace")
        raise stream_error(call, payload, raw)
    return payload


def cut_short(call: Call) -> UpstreamUnavailable:
    return UpstreamUnavailable(
        f"Upstream ({call.credential.provider}) ended the stream before it finished."
    )


async def sse_events(call: Call, stream: Stream) -> AsyncGenerator[JSON, None]:
    """The events of an Anthropic SSE stream, until ``message_stop``; closes the stream."""
    try:
        async for event, data in stream.events():
            payload = parse_event(call, event, data)
            yield payload
            if payload.get("type") == "message_stop":
                return
    finally:
        await stream.aclose()
    raise cut_short(call)


async def as_chat_chunks(
    events: AsyncGenerator[JSON, None], model: str
) -> AsyncGenerator[JSON, None]:
    """A Messages event stream as OpenAI chat chunks (chat completions on Claude, from
    Anthropic and from Vertex). aclosing: a caller that stops reading early releases the
    upstream connection now, not when the abandoned generator is collected."""
    converter = AnthropicStreamToOpenAI(model)
    async with aclosing(events):
        async for payload in events:
            for chunk in converter.feed(str(payload.get("type", "")), payload):
                yield chunk
