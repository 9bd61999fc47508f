"""Reading ConverseStream's ``application/vnd.amazon.eventstream`` body.

The framing (prelude, typed headers, CRC32s) is decoded by botocore's own
``EventStreamBuffer`` — the parser every AWS SDK for Python runs — fed from the send
path's stream of raw chunks. What this module adds is the mapping of each frame to either an event
``(event_type, payload)`` or one of our UpstreamErrors: AWS reports failures that happen
after the 200 (throttling, a model that broke mid-answer) as frames of
``:message-type`` ``exception`` (or ``error``) inside the stream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

from botocore.eventstream import EventStreamBuffer, EventStreamMessage, ParserError

from keyhouse.errors import UpstreamError
from keyhouse.gateway.send import Stream
from keyhouse.providers.base import Call, Credential, upstream_error

JSON = dict[str, Any]

# In-stream exception → the HTTP status AWS gives the same exception as a whole response,
# so that the error takes the same place in our tree (and the same retry decision) as if
# it had come before the first byte.
EXCEPTION_STATUS: dict[str, int] = {
    "throttlingException": 429,
    "modelNotReadyException": 429,
    "serviceUnavailableException": 503,
    "internalServerException": 500,
    # The model behind Bedrock failed mid-answer; AWS documents it as worth a retry.
    "modelStreamErrorException": 502,
    "modelTimeoutException": 408,
    "validationException": 400,
    "accessDeniedException": 403,
    "resourceNotFoundException": 404,
}


def decode_message(message: EventStreamMessage, credential: Credential) -> tuple[str, JSON]:
    """One decoded frame → ``(event_type, payload)``; raises UpstreamError for an
    exception or error frame."""
    headers = message.headers
    kind = headers.get(":message-type", "event")
    if kind == "exception":
        name = str(headers.get(":exception-type", "exception"))
        body = bytes(message.payload).decode("utf-8", "replace")
        raise _stream_error(name, body, credential)
    if kind == "error":
        code = str(headers.get(":error-code", "error"))
        text = str(headers.get(":error-message", ""))
        raise _stream_error(code, json.dumps({"message": text}), credential)
    event = str(headers.get(":event-type", ""))
    try:
        payload = json.loads(bytes(message.payload) or b"{}")
    except ValueError:
        raise UpstreamError(
            f"Upstream ({credential.provider}) sent a stream event that is not JSON."
        ) from None
    if not isinstance(payload, dict):
        raise UpstreamError(f"Upstream ({credential.provider}) sent an unexpected event.")
    return event, payload


def _stream_error(name: str, body: str, credential: Credential) -> UpstreamError:
    key = name[:1].lower() + name[1:]
    status = EXCEPTION_STATUS.get(key, 502)
    error = upstream_error(status, body, credential)
    # The message names the AWS exception, which tells an operator more than the status.
    error.message = f"{error.message} ({credential.redact(name)[:80]})"
    error.args = (error.message,)
    return error


async def iter_events(call: Call, stream: Stream) -> AsyncGenerator[tuple[str, JSON], None]:
    """Yield the events of an event-stream response, then close it."""
    buffer = EventStreamBuffer()
    try:
        async for data in stream.chunks():
            buffer.add_data(data)
            for message in buffer:
                yield decode_message(message, call.credential)
    except ParserError as exc:
        # A CRC mismatch or a truncated frame: the bytes were damaged on the way.
        raise UpstreamError(
            f"Upstream ({call.credential.provider}) sent a malformed event stream "
            f"({type(exc).__name__})."
        ) from None
    finally:
        await stream.aclose()
