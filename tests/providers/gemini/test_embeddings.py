"""GeminiAdapter embeddings against the Gemini API fake: batches and their failures."""

from __future__ import annotations

import base64
import struct

import pytest
from starlette.applications import Starlette

from keyhouse.errors import UpstreamUnavailable
from keyhouse.gateway.upstream import Upstream
from tests.providers.gemini.conftest import ADAPTER, make_call

pytestmark = pytest.mark.anyio


async def test_embeddings(app: Starlette, server: tuple[Starlette, str], client: Upstream) -> None:
    call = make_call(client, server[1], model="text-embedding-004")
    out = await ADAPTER.embeddings(call, {"input": ["alpha", "beta", "alpha"], "dimensions": 16})
    assert out["object"] == "list" and out["model"] == "text-embedding-004"
    assert [d["index"] for d in out["data"]] == [0, 1, 2]
    assert all(len(d["embedding"]) == 16 for d in out["data"])
    assert out["data"][0]["embedding"] == out["data"][2]["embedding"]
    assert out["data"][0]["embedding"] != out["data"][1]["embedding"]
    (seen,) = app.state.calls
    assert seen.path == "/v1beta/models/text-embedding-004:batchEmbedContents"
    assert seen.json["requests"][1] == {
        "model": "models/text-embedding-004",
        "content": {"parts": [{"text": "beta"}]},
        "outputDimensionality": 16,
    }

    encoded = await ADAPTER.embeddings(
        call, {"input": "alpha", "dimensions": 16, "encoding_format": "base64"}
    )
    raw = base64.b64decode(encoded["data"][0]["embedding"])
    assert list(struct.unpack("<16f", raw)) == pytest.approx(out["data"][0]["embedding"])


async def test_many_embeddings_are_split_into_batches_of_100(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    texts = [f"text {i}" for i in range(250)]
    out = await ADAPTER.embeddings(
        make_call(client, server[1], model="text-embedding-004"), {"input": texts, "dimensions": 4}
    )
    assert len(out["data"]) == 250
    assert sorted(len(c.json["requests"]) for c in app.state.calls) == [50, 100, 100]


async def test_a_failing_batch_raises_the_upstream_error_itself(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    # Three concurrent batches: the failure must not arrive wrapped in an ExceptionGroup.
    with pytest.raises(UpstreamUnavailable):
        await ADAPTER.embeddings(
            make_call(client, server[1], model="fail-503"), {"input": [f"t{i}" for i in range(250)]}
        )
