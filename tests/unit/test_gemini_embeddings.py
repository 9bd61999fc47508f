"""The pure OpenAI ↔ Gemini / Vertex AI embeddings conversions."""

from __future__ import annotations

import base64
import struct

import pytest

from keyhouse.errors import BadRequest
from keyhouse.providers import gemini_embeddings as embed


def test_embedding_bodies_and_answers() -> None:
    texts = embed.embedding_inputs({"input": ["a", "b"]})
    assert embed.gemini_embed_body("models/e", texts, 8) == {
        "requests": [
            {"model": "models/e", "content": {"parts": [{"text": "a"}]}, "outputDimensionality": 8},
            {"model": "models/e", "content": {"parts": [{"text": "b"}]}, "outputDimensionality": 8},
        ]
    }
    assert embed.vertex_predict_body(["a"], None) == {"instances": [{"content": "a"}]}
    vectors, tokens = embed.vertex_predict_vectors(
        {"predictions": [{"embeddings": {"values": [0.5, 1.0], "statistics": {"token_count": 3}}}]}
    )
    assert vectors == [[0.5, 1.0]] and tokens == 3
    out = embed.embeddings_response(vectors, "e", tokens)
    assert out["data"] == [{"object": "embedding", "index": 0, "embedding": [0.5, 1.0]}]
    assert out["usage"] == {"prompt_tokens": 3, "total_tokens": 3}


def test_base64_embeddings_are_little_endian_float32() -> None:
    out = embed.embeddings_response([[0.5, -2.0]], "e", 0, "base64")
    raw = base64.b64decode(out["data"][0]["embedding"])
    assert struct.unpack("<2f", raw) == (0.5, -2.0)


def test_token_array_inputs_are_refused() -> None:
    with pytest.raises(BadRequest):
        embed.embedding_inputs({"input": [[1, 2, 3]]})
