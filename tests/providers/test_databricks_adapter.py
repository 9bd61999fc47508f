"""The Databricks adapter against the Databricks routes of the OpenAI fake."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from keyhouse.errors import UpstreamAuthFailed, UpstreamRateLimited, UpstreamUnavailable
from keyhouse.gateway.upstream import Upstream
from keyhouse.providers import catalog
from keyhouse.providers.base import Call, Credential
from keyhouse.providers.openai import DatabricksAdapter
from keyhouse.testing.fakes.openai import create_app
from keyhouse.testing.fakes.server import Recorded, ServerThread, serve

TOKEN = "dapi0123456789abcdef0123456789abcdef"
WRONG = "dapiffffffffffffffffffffffffffffffff"
ENDPOINT = "databricks-meta-llama-3-3-70b-instruct"
ADAPTER = DatabricksAdapter(catalog.BY_ID["databricks"])


@pytest.fixture(scope="module")
def fake() -> Iterator[ServerThread]:
    with serve(create_app(databricks_token=TOKEN)) as server:
        yield server


def call(client: Upstream, server: ServerThread, token: str = TOKEN, model: str = ENDPOINT) -> Call:
    # A trailing slash on the workspace URL is common when pasted from a browser.
    cred = Credential("key-d", "databricks", "token", {"token": token}, {"host": f"{server.url}/"})
    return Call(client, cred, model)


def last(server: ServerThread) -> Recorded:
    calls: list[Recorded] = server.app.state.calls
    return calls[-1]


def chat(text: str = "hello workspace") -> dict[str, Any]:
    return {"model": "my-endpoint", "messages": [{"role": "user", "content": text}]}


@pytest.mark.anyio
async def test_chat_posts_to_serving_endpoints_with_model_in_body(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        result = await ADAPTER.chat(call(client, fake), chat())
    seen = last(fake)
    assert seen.path == "/serving-endpoints/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {TOKEN}"
    assert seen.json["model"] == ENDPOINT
    assert result["choices"][0]["message"]["content"] == "echo: hello workspace"
    assert result["usage"]["total_tokens"] == 5


@pytest.mark.anyio
async def test_streaming_ends_with_usage(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        chunks = [c async for c in ADAPTER.chat_stream(call(client, fake), chat())]
    assert last(fake).json["stream"] is True
    assert "stream_options" not in last(fake).json
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == "echo: hello workspace"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] == 3


@pytest.mark.anyio
async def test_embeddings(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        result = await ADAPTER.embeddings(
            call(client, fake, model="databricks-bge-large-en"),
            {"model": "e", "input": "text to embed"},
        )
    assert last(fake).path == "/serving-endpoints/embeddings"
    assert len(result["data"][0]["embedding"]) == 8


@pytest.mark.anyio
async def test_verify_and_wrong_token(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        await ADAPTER.verify(call(client, fake))
        assert (last(fake).method, last(fake).path) == ("GET", "/api/2.0/serving-endpoints")
        with pytest.raises(UpstreamAuthFailed) as info:
            await ADAPTER.chat(call(client, fake, token=WRONG), chat())
        with pytest.raises(UpstreamAuthFailed):
            await ADAPTER.verify(call(client, fake, token=WRONG))
    assert info.value.upstream_status == 403
    assert "Invalid access token: [REDACTED]" in info.value.message
    assert WRONG not in str(info.value)


@pytest.mark.anyio
async def test_rate_limit_and_unavailable(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        with pytest.raises(UpstreamRateLimited) as info:
            await ADAPTER.chat(call(client, fake, model="fail-429"), chat())
        assert info.value.retry_after == 0.0
        assert "Exceeded workspace rate limit" in info.value.message
        with pytest.raises(UpstreamUnavailable):
            await ADAPTER.chat(call(client, fake, model="fail-503"), chat())


def test_host_without_scheme_gets_https() -> None:
    cred = Credential(
        "k", "databricks", "token", {"token": TOKEN}, {"host": "adb-1.azuredatabricks.net"}
    )
    assert ADAPTER.base_url(cred) == "https://adb-1.azuredatabricks.net/serving-endpoints"
    assert ADAPTER.verify_url(cred) == "https://adb-1.azuredatabricks.net/api/2.0/serving-endpoints"
