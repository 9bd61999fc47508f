"""Shared cases of the OpenAI ⇄ Anthropic conversion tests (test_anthropic_*.py).

Outputs are validated against the official SDKs' types, so a shape that either SDK would
refuse fails there rather than in a customer's client.
"""

from __future__ import annotations

from typing import Any

from anthropic.types import MessageParam, RawMessageStreamEvent
from pydantic import TypeAdapter

from keyhouse.providers.anthropic_convert import openai_to_anthropic_request

PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
    "rkJggg=="
)
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}

MESSAGES = TypeAdapter(list[MessageParam])
EVENT = TypeAdapter(RawMessageStreamEvent)


def to_anthropic(req: dict[str, Any]) -> dict[str, Any]:
    out = openai_to_anthropic_request(req, "claude-x")
    MESSAGES.validate_python(out["messages"])
    return out
