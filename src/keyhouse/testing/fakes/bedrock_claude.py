"""Claude on the Bedrock fake: InvokeModel, InvokeModelWithResponseStream and CountTokens
with Anthropic's Messages body, as Bedrock takes it.

The body is Anthropic's with ``anthropic_version: "bedrock-2023-05-31"`` (required, and
only that value), no ``model`` (it is in the URL) and no ``stream`` (the operation says
it); betas travel in the body as ``anthropic_beta``. Everything else is checked by the
Anthropic fake's own rules, and answered by its model — thinking signatures and the
prompt cache included, so cache reads and writes show in usage. A refused body is a
``ValidationException`` in AWS's shape, as Bedrock answers it. The stream is event-stream
frames whose ``chunk`` events carry one Anthropic event each, base64 in ``bytes``; the
last one (``message_stop``) carries ``amazon-bedrock-invocationMetrics``.

CountTokens (``POST /model/{id}/count-tokens``) takes ``{"input": {"invokeModel":
{"body": <base64 of an InvokeModel body>}}}`` and answers ``{"inputTokens": n}``; like
Bedrock it counts for a foundation model id only — an inference profile is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from keyhouse.testing.fakes.anthropic_features import PromptCache, Signer
from keyhouse.testing.fakes.anthropic_model import events, message, platform_body
from keyhouse.testing.fakes.bedrock_frames import chunk_frame, exception_frame
from keyhouse.testing.fakes.bedrock_sigv4 import invalid

JSON = dict[str, Any]

VERSION = "bedrock-2023-05-31"
_EXTRA = frozenset({"anthropic_beta"})
_FORBIDDEN = frozenset({"stream"})
_PROFILE = re.compile(r"(us|eu|apac|global|jp|au|ca|us-gov)\.anthropic\.")


def is_claude(model: str) -> bool:
    return "anthropic.claude" in model


def _checked(model: str, body: JSON, signer: Signer) -> JSON:
    found, messages_body = platform_body(body, model, signer, VERSION, _EXTRA, _FORBIDDEN)
    if found:
        raise invalid(
            f"Malformed input request: {found}, please reformat your input and try again."
        )
    return messages_body


def invoke(model: str, body: JSON, signer: Signer, cache: PromptCache) -> JSON:
    """InvokeModel: the Message (Bedrock's ``model`` is the Anthropic model's name)."""
    answer = message(_checked(model, body, signer), signer, cache)
    answer["model"] = _anthropic_name(model)
    return answer


def invoke_stream(
    model: str, body: JSON, signer: Signer, cache: PromptCache
) -> AsyncIterator[bytes]:
    """The stream's frames; the body is checked now, before the 200 goes out."""
    return _frames(model, _checked(model, body, signer), signer, cache)


async def _frames(
    model: str, messages_body: JSON, signer: Signer, cache: PromptCache
) -> AsyncIterator[bytes]:
    usage: JSON = {}
    async for event in events(messages_body, False, signer, cache):
        if event["type"] == "message_start":
            event["message"]["model"] = _anthropic_name(model)
            usage = dict(event["message"]["usage"])
        elif event["type"] == "message_delta":
            usage.update(event["usage"])
        elif event["type"] == "message_stop":
            event["amazon-bedrock-invocationMetrics"] = {
                "inputTokenCount": usage.get("input_tokens", 0),
                "outputTokenCount": usage.get("output_tokens", 0),
                "invocationLatency": 42,
                "firstByteLatency": 7,
                "cacheReadInputTokenCount": usage.get("cache_read_input_tokens", 0),
                "cacheWriteInputTokenCount": usage.get("cache_creation_input_tokens", 0),
            }
        yield chunk_frame(event)
        if model.endswith("fail-midstream") and event["type"] == "content_block_delta":
            yield exception_frame(
                "throttlingException", "Too many requests, please wait before trying again."
            )
            return


def count_tokens(model: str, body: Any, signer: Signer) -> JSON:
    if _PROFILE.match(model):
        raise invalid("The provided model doesn't support counting tokens.")
    if not isinstance(body, dict) or set(body) != {"input"}:
        raise invalid("Malformed input request: the body must hold exactly `input`.")
    union = body["input"]
    if not isinstance(union, dict) or list(union) != ["invokeModel"]:
        raise invalid("Malformed input request: input must hold one of invokeModel, converse.")
    encoded = union["invokeModel"].get("body") if isinstance(union["invokeModel"], dict) else None
    try:
        inner = json.loads(base64.b64decode(encoded or "", validate=True))
    except (binascii.Error, ValueError):
        raise invalid("Malformed input request: invokeModel.body is not base64 JSON.") from None
    if not isinstance(inner, dict):
        raise invalid("Malformed input request: invokeModel.body is not a JSON object.")
    messages_body = _checked(model, inner, signer)
    # Counting reads the prompt only: the cache is not touched (a count writes nothing).
    return {"inputTokens": message(messages_body, signer)["usage"]["input_tokens"]}


def _anthropic_name(model: str) -> str:
    """``us.anthropic.claude-x-v1:0`` → ``claude-x`` roughly as Bedrock reports it."""
    name = model.rsplit("anthropic.", 1)[-1]
    return re.sub(r"-v\d+(:\d+)?$", "", name)
