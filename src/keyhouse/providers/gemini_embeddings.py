"""Pure conversions of OpenAI embeddings requests and answers for Google: the Gemini API's
``batchEmbedContents`` and Vertex AI's ``predict``. Nothing here does I/O."""

from __future__ import annotations

import base64
import struct
from typing import Any

from keyhouse.errors import BadRequest

JSON = dict[str, Any]


def embedding_inputs(request: JSON) -> list[str]:
    value = request.get("input")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise BadRequest(
        "Google embeddings take a string or a list of strings as input "
        "(token arrays are not supported)."
    )


def gemini_embed_body(model_path: str, texts: list[str], dimensions: int | None) -> JSON:
    """``batchEmbedContents``: each request repeats the model named in the URL."""
    extra = {"outputDimensionality": dimensions} if dimensions else {}
    return {
        "requests": [
            {"model": model_path, "content": {"parts": [{"text": t}]}, **extra} for t in texts
        ]
    }


def gemini_embed_vectors(data: JSON) -> list[list[float]]:
    return [list(e.get("values") or []) for e in data.get("embeddings") or []]


def vertex_predict_body(texts: list[str], dimensions: int | None) -> JSON:
    body: JSON = {"instances": [{"content": t} for t in texts]}
    if dimensions:
        body["parameters"] = {"outputDimensionality": dimensions}
    return body


def vertex_predict_vectors(data: JSON) -> tuple[list[list[float]], int]:
    """Vectors and the token count Vertex reports per instance."""
    vectors, tokens = [], 0
    for prediction in data.get("predictions") or []:
        embeddings = prediction.get("embeddings") or {}
        vectors.append(list(embeddings.get("values") or []))
        tokens += int((embeddings.get("statistics") or {}).get("token_count", 0))
    return vectors, tokens


def embeddings_response(
    vectors: list[list[float]], model: str, prompt_tokens: int, encoding_format: str | None = None
) -> JSON:
    def encode(vector: list[float]) -> list[float] | str:
        if encoding_format == "base64":  # what OpenAI sends: little-endian float32
            return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        return vector

    return {
        "object": "list",
        "model": model,
        "data": [
            {"object": "embedding", "index": i, "embedding": encode(v)}
            for i, v in enumerate(vectors)
        ],
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }
