"""Pure conversions for Claude on Vertex AI, spoken natively: the caller's Anthropic
Messages body goes to ``publishers/anthropic/models/{model}:rawPredict`` (or
``:streamRawPredict``) as the ``anthropic`` SDK's AnthropicVertex client sends it —
``anthropic_version: "vertex-2023-10-16"`` and no ``model`` (it is in the URL); the rest,
``stream`` included, exactly as the caller sent it. Betas stay in the ``anthropic-beta``
header, which Vertex AI takes. count_tokens goes to
``publishers/anthropic/models/count-tokens:rawPredict`` with its ``model``. No I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping

from keyhouse.providers.base import JSON

VERSION = "vertex-2023-10-16"
COUNT_MODEL = "count-tokens"


def is_claude(model: str) -> bool:
    return model.removeprefix("models/").startswith("claude-")


def predict_body(request: JSON, stream: bool) -> JSON:
    body = {k: v for k, v in request.items() if k not in ("model", "stream")}
    body["anthropic_version"] = VERSION
    if stream:
        body["stream"] = True
    return body


def count_body(request: JSON, model: str) -> JSON:
    return {**request, "model": model, "anthropic_version": VERSION}


def headers(caller: Mapping[str, str]) -> dict[str, str]:
    """The caller's betas; the version travels in the body."""
    beta = caller.get("anthropic-beta")
    return {"anthropic-beta": beta} if beta else {}
