"""Reading a gateway request body: bounded, parsed once, as a plain dict.

The body goes to an adapter as a dict; validating it whole with a pydantic model would
cost more than the rest of the gateway and reject fields providers add every month, so
only what the gateway itself needs is checked here.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from keyhouse.errors import BadRequest, PayloadTooLarge

MAX_BODY_BYTES = 10 * 1024 * 1024

JSON = dict[str, Any]


async def read_json(request: Request, limit: int = MAX_BODY_BYTES) -> JSON:
    """The body as a JSON object; 413 past ``limit`` bytes, 400 when it is not JSON."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        except ValueError:
            raise BadRequest("The Content-Length header is not a number.") from None
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        parts.append(part)
    raw = parts[0] if len(parts) == 1 else b"".join(parts)
    if not raw:
        raise BadRequest("The request body is empty; send a JSON object.")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadRequest("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    return data


def model_name(body: JSON) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' is required: the name of a Keyhouse endpoint.",
                         param="model")
    return model


def wants_stream(body: JSON) -> bool:
    stream = body.pop("stream", None)
    if stream is None:
        return False
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be true or false.", param="stream")
    return stream
