"""What the gateway itself reads from a request body (``GatewayRequest.json`` reads it).

The body goes to an adapter as a dict; validating it whole with a pydantic model would
cost more than the rest of the gateway and reject fields providers add every month, so
only what the gateway itself needs is checked here.
"""

from __future__ import annotations

from typing import Any

from keyhouse.errors import BadRequest

JSON = dict[str, Any]


def model_name(body: JSON) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("'model' is required: the name of a Keyhouse endpoint.", param="model")
    return model


def wants_stream(body: JSON) -> bool:
    stream = body.pop("stream", None)
    if stream is None:
        return False
    if not isinstance(stream, bool):
        raise BadRequest("'stream' must be true or false.", param="stream")
    return stream
