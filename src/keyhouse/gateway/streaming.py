"""Server-sent events to the caller.

An adapter yields OpenAI chunk dicts; these writers frame them as SSE. Once the first
byte is out the status line is spent, so an error after it becomes a final error event
in the caller's format (both SDKs raise on it) and the stream ends — never a hang.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import orjson

from keyhouse.errors import KeyhouseError
from keyhouse.gateway.context import CallContext
from keyhouse.gateway.routing import OpenStream, log_unexpected
from keyhouse.providers.anthropic_inbound_answer import OpenAIStreamToAnthropic
from keyhouse.shared.envelopes import anthropic_error, openai_error

log = logging.getLogger("keyhouse.gateway")

JSON = dict[str, Any]

DONE = b"data: [DONE]\n\n"
dumps = orjson.dumps


def data_event(data: Any) -> bytes:
    return b"data: " + dumps(data) + b"\n\n"


def named_event(event: str, data: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + dumps(data) + b"\n\n"


def strip_usage(chunk: JSON) -> JSON | None:
    """The chunk as a caller who did not ask for usage sees it (OpenAI sends no usage
    chunk then): a usage-only chunk disappears, a usage field on a content chunk goes."""
    if chunk.get("usage") is None:
        return chunk
    if not chunk.get("choices"):
        return None
    return {k: v for k, v in chunk.items() if k != "usage"}


def openai_events(
    stream: OpenStream, include_usage: bool, ctx: CallContext | None = None
) -> AsyncIterator[bytes]:
    """``data: {chunk}`` events, then ``data: [DONE]``; an error ends the stream with
    ``data: {"error": {...}}`` (the OpenAI SDK raises APIError on it)."""

    if stream.relayed:  # already the caller's bytes, [DONE] included
        return _events(stream, _as_is, list, openai_error, data_event, ctx)

    def frame(chunk: JSON) -> list[bytes]:
        shown = chunk if include_usage else strip_usage(chunk)
        return [] if shown is None else [data_event(shown)]

    return _events(stream, frame, lambda: [DONE], openai_error, data_event, ctx)


def _as_is(data: bytes) -> list[bytes]:
    return [data]


def anthropic_events(
    stream: OpenStream, model: str, ctx: CallContext | None = None
) -> AsyncIterator[bytes]:
    """The Messages API event sequence; an error ends it with an ``error`` event."""
    converter = OpenAIStreamToAnthropic(model)

    # One chunk can become several events (a block stops, another starts): send them as
    # one write.
    def frame(chunk: JSON) -> list[bytes]:
        events = b"".join(named_event(name, data) for name, data in converter.feed(chunk))
        return [events] if events else []

    def done() -> list[bytes]:
        return [b"".join(named_event(name, data) for name, data in converter.finish())]

    return _events(
        stream, frame, done, anthropic_error, lambda body: named_event("error", body), ctx
    )


async def _events(
    stream: OpenStream,
    frame: Callable[[Any], Iterable[bytes]],
    done: Callable[[], Iterable[bytes]],
    envelope: Callable[[Exception], tuple[int, JSON]],
    event_of: Callable[[JSON], bytes],
    ctx: CallContext | None,
) -> AsyncIterator[bytes]:
    # A relayed stream reports its usage itself (the router's on_usage).
    usage_ctx = None if stream.relayed else ctx
    try:
        if stream.first is not None:
            if usage_ctx is not None and stream.first.get("usage"):
                usage_ctx.usage = stream.first["usage"]
            for event in frame(stream.first):
                yield event
        async for chunk in stream.rest:
            if usage_ctx is not None and chunk.get("usage"):
                usage_ctx.usage = chunk["usage"]
            for event in frame(chunk):
                yield event
        for event in done():
            yield event
    except Exception as exc:
        code = report_stream_end(exc, stream)
        status, body = envelope(exc)
        if ctx is not None:
            ctx.failed(status, code)
        yield event_of(body)
    finally:
        await stream.aclose()


def report_stream_end(
    exc: Exception, stream: OpenStream, what: str = "stream", logger: logging.Logger = log
) -> str:
    """Log a stream that failed after its first byte (a bug as its type only, see
    ``log_unexpected``); the error code the call's record gets."""
    where = f"{what} from {stream.credential.provider}"
    if isinstance(exc, KeyhouseError):
        logger.warning(
            "%s ended early: %s %s", where, exc.code, stream.credential.redact(exc.message)
        )
        return exc.code
    log_unexpected(exc, where, stream.credential)
    return "internal_error"
