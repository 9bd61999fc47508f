"""Pure conversions for Bedrock embeddings: Converse has none, so each model family
takes its own InvokeModel body (Titan one text per call, Cohere up to 96)."""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterable
from typing import Any, Literal

from keyhouse.errors import BadRequest, Unsupported

JSON = dict[str, Any]

EmbeddingFamily = Literal["titan", "cohere"]
COHERE_BATCH = 96  # texts per InvokeModel call that Cohere Embed accepts


def embedding_family(model: str) -> EmbeddingFamily:
    # Model ids may carry a cross-region prefix ("us.") or be an ARN; match the family.
    if "titan-embed" in model:
        return "titan"
    if "cohere.embed" in model:
        return "cohere"
    raise Unsupported(
        f"Bedrock model {model!r} is not a supported embedding model "
        "(amazon.titan-embed-* or cohere.embed-*)."
    )


def embedding_inputs(request: JSON) -> list[str]:
    raw = request.get("input")
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not items or not all(isinstance(t, str) for t in items):
        raise BadRequest(
            "Bedrock embeddings take `input` as a string or a list of strings "
            "(token arrays are not supported)."
        )
    return list(items)


def titan_embedding_body(text: str, request: JSON, model: str) -> JSON:
    body: JSON = {"inputText": text}
    dims = request.get("dimensions")
    if dims is not None:
        if "text-v2" in model:
            body["dimensions"] = int(dims)
        elif "image-v1" in model:
            body["embeddingConfig"] = {"outputEmbeddingLength": int(dims)}
        else:
            raise BadRequest(f"Bedrock model {model!r} does not take `dimensions`.")
    return body


def cohere_embedding_bodies(texts: list[str], request: JSON, model: str) -> list[JSON]:
    extra: JSON = {"input_type": request.get("input_type") or "search_document"}
    if request.get("dimensions") is not None:
        if "embed-v4" not in model:
            raise BadRequest(f"Bedrock model {model!r} does not take `dimensions`.")
        extra["output_dimension"] = int(request["dimensions"])
    return [
        {"texts": texts[i : i + COHERE_BATCH], **extra} for i in range(0, len(texts), COHERE_BATCH)
    ]


def titan_embedding(data: JSON) -> tuple[list[float], int]:
    vector = data.get("embedding") or (data.get("embeddingsByType") or {}).get("float")
    if not isinstance(vector, list):
        raise ValueError("no embedding in the Titan response")
    return vector, int(data.get("inputTextTokenCount") or 0)


def cohere_embeddings(data: JSON) -> list[list[float]]:
    vectors = data.get("embeddings")
    if isinstance(vectors, dict):  # "embeddings_by_type" (embedding_types given, or v4)
        vectors = vectors.get("float")
    if not isinstance(vectors, list):
        raise ValueError("no float embeddings in the Cohere response")
    return vectors


def embeddings_response(
    vectors: Iterable[list[float]],
    model: str,
    prompt_tokens: int,
    encoding_format: str | None = None,
) -> JSON:
    data = []
    for i, vector in enumerate(vectors):
        embedding: list[float] | str = vector
        if encoding_format == "base64":
            # What OpenAI sends for base64 (and what its SDK asks for by default):
            # little-endian float32s.
            embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": i, "embedding": embedding})
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }
