"""The Bedrock fake's InvokeModel bodies for the embedding models (Titan, Cohere)."""

from __future__ import annotations

import hashlib
import random
import uuid
from typing import Any

from keyhouse.testing.fakes.bedrock_sigv4 import invalid

JSON = dict[str, Any]


def _words(text: str) -> int:
    return len(text.split())


def _vector(text: str, dims: int) -> list[float]:
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    return [round(rng.uniform(-1, 1), 6) for _ in range(dims)]


def invoke_embedding(model: str, body: JSON) -> tuple[JSON, int]:
    if "titan-embed" in model:
        allowed = (
            {"inputText", "dimensions", "normalize", "embeddingTypes"}
            if "text-v2" in model
            else {"inputText", "inputImage", "embeddingConfig"}
            if "image" in model
            else {"inputText"}
        )
        extra = sorted(set(body) - allowed)
        if extra:
            raise invalid(
                f"Malformed input request: extraneous key [{extra[0]}] is not "
                "permitted, please reformat your input and try again."
            )
        text = body.get("inputText")
        if not isinstance(text, str) or not text:
            raise invalid(
                "Malformed input request: expected minLength: 1, actual: 0, please "
                "reformat your input and try again."
            )
        dims = (
            body.get("dimensions")
            or (body.get("embeddingConfig") or {}).get("outputEmbeddingLength")
            or (1536 if "text-v1" in model else 1024)
        )
        vector = _vector(text, int(dims))
        out: JSON = {"embedding": vector, "inputTextTokenCount": _words(text)}
        if "text-v2" in model:
            out["embeddingsByType"] = {"float": vector}
        return out, _words(text)
    if "cohere.embed" in model:
        texts = body.get("texts")
        if not isinstance(texts, list) or not 0 < len(texts) <= 96:
            raise invalid(
                "Malformed input request: texts must hold 1 to 96 strings, please "
                "reformat your input and try again."
            )
        if "input_type" not in body:
            raise invalid(
                "Malformed input request: #: required key [input_type] not found, "
                "please reformat your input and try again."
            )
        v4 = "embed-v4" in model
        dims = int(body.get("output_dimension") or (1536 if v4 else 1024))
        vectors = [_vector(t, dims) for t in texts]
        by_type = v4 or "embedding_types" in body
        return {
            "id": str(uuid.uuid4()),
            "texts": texts,
            "embeddings": {"float": vectors} if by_type else vectors,
            "response_type": "embeddings_by_type" if by_type else "embeddings_floats",
        }, sum(_words(t) for t in texts)
    raise invalid("The provided model doesn't support on-demand throughput.")
