"""AWS's ``application/vnd.amazon.eventstream`` framing as Bedrock sends it (prelude,
typed headers, CRC32s), encoded here; botocore only decodes."""

from __future__ import annotations

import base64
import binascii
import json
import random
import struct
from typing import Any

JSON = dict[str, Any]

PADDING = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def encode_frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One event-stream message: prelude (total length, headers length, CRC32), headers
    as (name length, name, type 7 = string, value length, value), payload, CRC32 of all."""
    head = b"".join(
        struct.pack(">B", len(n.encode()))
        + n.encode()
        + b"\x07"
        + struct.pack(">H", len(v.encode()))
        + v.encode()
        for n, v in headers.items()
    )
    prelude = struct.pack(">II", 12 + len(head) + len(payload) + 4, len(head))
    message = prelude + struct.pack(">I", binascii.crc32(prelude)) + head + payload
    return message + struct.pack(">I", binascii.crc32(message))


def event_frame(event_type: str, payload: JSON) -> bytes:
    # Bedrock pads every event with a "p" field of varying length (against length-based
    # side channels); clients must ignore it.
    body = {**payload, "p": PADDING[: random.randint(1, len(PADDING))]}
    return encode_frame(
        {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"},
        json.dumps(body).encode(),
    )


def exception_frame(exception_type: str, message: str) -> bytes:
    return encode_frame(
        {
            ":exception-type": exception_type,
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        json.dumps({"message": message}).encode(),
    )


def chunk_frame(event: JSON) -> bytes:
    """InvokeModelWithResponseStream's ``chunk`` event: the model's own event (for Claude,
    one Anthropic stream event) as base64 ``bytes``."""
    raw = json.dumps(event).encode()
    return event_frame("chunk", {"bytes": base64.b64encode(raw).decode("ascii")})
