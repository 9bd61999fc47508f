"""Pure conversions for Claude on Bedrock, spoken natively: the caller's Anthropic
Messages body becomes an InvokeModel body, as the ``anthropic`` SDK's AnthropicBedrock
client makes it — ``anthropic_version: "bedrock-2023-05-31"``, no ``model`` (it is in the
URL), no ``stream`` (InvokeModelWithResponseStream says it), and the ``anthropic-beta``
header's values as the body's ``anthropic_beta`` list. Everything else (thinking,
``cache_control``, ``top_k``, server tools, documents) is left exactly as the caller
sent it. Nothing here does I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping

from keyhouse.errors import UpstreamError
from keyhouse.providers.base import JSON

VERSION = "bedrock-2023-05-31"
# anthropic.claude-*, a cross-region inference profile (us.anthropic.claude-*), or an
# ARN of either (…:foundation-model/anthropic.claude-*).
_CLAUDE = re.compile(r"(^|[./])anthropic\.claude-")
# CountTokens takes a foundation model id only: an inference profile's geography goes.
_PROFILE = re.compile(r"^(us|eu|apac|global|jp|au|ca|us-gov)\.(?=anthropic\.)")


def is_claude(model: str) -> bool:
    return _CLAUDE.search(model) is not None


def betas(headers: Mapping[str, str]) -> list[str]:
    raw = headers.get("anthropic-beta") or ""
    return [b.strip() for b in raw.split(",") if b.strip()]


def invoke_body(request: JSON, headers: Mapping[str, str]) -> JSON:
    """A Messages body → Claude's InvokeModel body. A caller's own ``anthropic_beta``
    (an SDK made for Bedrock sends it) is kept, joined by the header's betas."""
    body = {k: v for k, v in request.items() if k not in ("model", "stream")}
    body["anthropic_version"] = VERSION
    listed = betas(headers)
    if listed:
        own = body.get("anthropic_beta")
        body["anthropic_beta"] = [
            *(own if isinstance(own, list) else []),
            *(b for b in listed if not isinstance(own, list) or b not in own),
        ]
    return body


def count_tokens_body(request: JSON, headers: Mapping[str, str]) -> JSON:
    """A Messages count_tokens body → CountTokens' ``{"input": {"invokeModel": {"body"}}}``.

    The InvokeModel body it wraps must be one Claude would take, and that one needs
    ``max_tokens``; it bounds the answer, never the count, so any valid value does (one
    above a thinking budget, which must stay below it)."""
    body = invoke_body(request, headers)
    budget = (body.get("thinking") or {}).get("budget_tokens")
    body["max_tokens"] = budget + 1 if isinstance(budget, int) else 1
    raw = json.dumps(body, separators=(",", ":")).encode()
    return {"input": {"invokeModel": {"body": base64.b64encode(raw).decode("ascii")}}}


def count_model(model: str) -> str:
    """The foundation model an inference profile routes to (the tokenizer is the model's)."""
    return _PROFILE.sub("", model)


def count_answer(data: JSON) -> JSON:
    tokens = data.get("inputTokens")
    if not isinstance(tokens, int) or isinstance(tokens, bool):
        raise UpstreamError("Upstream (bedrock) sent a token count without inputTokens.")
    return {"input_tokens": tokens}


def chunk_bytes(payload: JSON) -> bytes:
    """A ``chunk`` event's payload → the Anthropic event it carries (JSON bytes)."""
    try:
        return base64.b64decode(payload.get("bytes") or "", validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise UpstreamError("Upstream (bedrock) sent a stream chunk that is not base64.") from None
