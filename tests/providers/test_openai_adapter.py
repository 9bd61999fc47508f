"""The OpenAI adapter against the OpenAI fake: OpenAI itself, the OpenAI-compatible
vendor rows, Ollama (no auth) and custom OpenAI-compatible servers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from keyhouse.errors import (
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from keyhouse.gateway.upstream import Timeouts, Upstream
from keyhouse.providers import catalog
from keyhouse.providers.azure import AzureOpenAIAdapter
from keyhouse.providers.base import Call, Credential
from keyhouse.providers.openai import DatabricksAdapter, OpenAIAdapter
from keyhouse.providers.registry import Adapters
from keyhouse.testing.fakes.openai import create_app
from keyhouse.testing.fakes.server import (
    Canned,
    Recorded,
    ServerThread,
    free_port,
    serve,
    serve_canned,
)

KEY = "sk-test-7a1c9e0f4b2d8c6e"
WRONG_KEY = "sk-wrong-3f9d2a7b1c5e8f0a"
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
    "rkJggg=="
)
TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look it up",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    },
}


@pytest.fixture(scope="module")
def fake() -> Iterator[ServerThread]:
    with serve(create_app(api_key=KEY)) as server:
        yield server


@pytest.fixture(scope="module")
def open_fake() -> Iterator[ServerThread]:
    """An Ollama-like server: no auth at all."""
    with serve(create_app(api_key=None)) as server:
        yield server


def credential(
    server: ServerThread, key: str | None = KEY, provider: str = "openai", **config: str
) -> Credential:
    secrets = {"api_key": key} if key is not None else {}
    return Credential(
        "key-1",
        provider,
        "api_key" if key is not None else "none",
        secrets,
        {"base_url": f"{server.url}/v1", **config},
    )


def last(server: ServerThread) -> Recorded:
    calls: list[Recorded] = server.app.state.calls
    return calls[-1]


def chat(text: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}


async def collect(adapter: OpenAIAdapter, call: Call, request: dict[str, Any]) -> list[Any]:
    return [chunk async for chunk in adapter.chat_stream(call, request)]


ADAPTER = OpenAIAdapter(catalog.BY_ID["openai"])


@pytest.mark.anyio
async def test_chat_sends_bearer_and_returns_the_completion(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        cred = credential(fake, organization="org-123", project="proj_9")
        result = await ADAPTER.chat(
            Call(client, cred, "gpt-4o-mini"),
            {
                "model": "gpt-4o-mini",
                "messages": [
                    {"role": "system", "content": "You are terse."},
                    {"role": "user", "content": "first question"},
                    {"role": "assistant", "content": "first answer"},
                    {"role": "user", "content": "second question"},
                ],
            },
        )
    assert result["choices"][0]["message"]["content"] == "echo: second question"
    assert result["choices"][0]["finish_reason"] == "stop"
    usage = result["usage"]
    assert {k: usage[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")} == {
        "prompt_tokens": 9,
        "completion_tokens": 3,
        "total_tokens": 12,
    }
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0  # relayed as the fake sent it
    seen = last(fake)
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert seen.headers["openai-organization"] == "org-123"
    assert seen.headers["openai-project"] == "proj_9"
    assert "stream" not in seen.json


@pytest.mark.anyio
async def test_model_and_sampling_params_reach_the_wire(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        result = await ADAPTER.chat(
            Call(client, credential(fake), "gpt-4o"),
            chat(
                "one two three four five",
                model="endpoint-name",
                temperature=0.3,
                top_p=0.7,
                stop=["four"],
                max_tokens=2,
            ),
        )
    sent = last(fake).json
    assert sent["model"] == "gpt-4o"
    assert (sent["temperature"], sent["top_p"], sent["stop"], sent["max_tokens"]) == (
        0.3,
        0.7,
        ["four"],
        2,
    )
    assert "organization" not in last(fake).headers
    # "echo: one two three " cut at the stop sequence, then at 2 words.
    assert result["choices"][0]["message"]["content"] == "echo: one"
    assert result["choices"][0]["finish_reason"] == "length"


@pytest.mark.anyio
async def test_streaming_yields_chunks_and_a_final_usage_chunk(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        chunks = await collect(
            ADAPTER, Call(client, credential(fake), "gpt-4o-mini"), chat("stream me please")
        )
    sent = last(fake).json
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "echo: stream me please"
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 4


@pytest.mark.anyio
async def test_tool_call_round_trip(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        call = Call(client, credential(fake), "gpt-4o-mini")
        first = await ADAPTER.chat(call, chat("weather in Oslo", tools=[TOOL]))
        choice = first["choices"][0]
        assert choice["finish_reason"] == "tool_calls"
        tool_call = choice["message"]["tool_calls"][0]
        assert tool_call["function"]["name"] == "lookup"
        assert json.loads(tool_call["function"]["arguments"]) == {"q": "weather in Oslo"}
        second = await ADAPTER.chat(
            call,
            {
                "model": "gpt-4o-mini",
                "tools": [TOOL],
                "messages": [
                    {"role": "user", "content": "weather in Oslo"},
                    choice["message"],
                    {"role": "tool", "tool_call_id": tool_call["id"], "content": "cold"},
                ],
            },
        )
        assert second["choices"][0]["message"]["content"] == "tool said: cold"
        chunks = await collect(ADAPTER, call, chat("weather in Oslo", tools=[TOOL]))
    deltas = [
        d for c in chunks if c["choices"] for d in c["choices"][0]["delta"].get("tool_calls") or []
    ]
    assert deltas[0]["id"] == tool_call["id"]
    arguments = "".join(d["function"].get("arguments", "") for d in deltas)
    assert json.loads(arguments) == {"q": "weather in Oslo"}


@pytest.mark.anyio
async def test_image_input_is_passed_through(fake: ServerThread) -> None:
    content = [
        {"type": "text", "text": "what is this"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
    ]
    async with Upstream(allow_private=True) as client:
        result = await ADAPTER.chat(
            Call(client, credential(fake), "gpt-4o"),
            {"model": "gpt-4o", "messages": [{"role": "user", "content": content}]},
        )
    assert last(fake).json["messages"][0]["content"] == content
    assert result["choices"][0]["message"]["content"] == "echo: what is this"


@pytest.mark.anyio
async def test_embeddings(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        result = await ADAPTER.embeddings(
            Call(client, credential(fake), "text-embedding-3-small"),
            {"model": "emb", "input": ["alpha beta", "gamma"], "dimensions": 4},
        )
    assert last(fake).path == "/v1/embeddings"
    assert last(fake).json["model"] == "text-embedding-3-small"
    assert [d["index"] for d in result["data"]] == [0, 1]
    assert all(len(d["embedding"]) == 4 for d in result["data"])
    assert result["data"][0]["embedding"] != result["data"][1]["embedding"]
    assert result["usage"]["prompt_tokens"] == 3


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [False, True])
async def test_wrong_key_is_auth_failure_without_the_key(fake: ServerThread, stream: bool) -> None:
    async with Upstream(allow_private=True) as client:
        call = Call(client, credential(fake, key=WRONG_KEY), "gpt-4o-mini")
        with pytest.raises(UpstreamAuthFailed) as info:
            if stream:
                await collect(ADAPTER, call, chat())
            else:
                await ADAPTER.chat(call, chat())
    # The fake echoes the presented key in its 401 body; the error must not.
    assert WRONG_KEY not in str(info.value) and WRONG_KEY not in repr(info.value)
    assert "Incorrect API key provided: [REDACTED]" in info.value.message
    assert info.value.upstream_status == 401


@pytest.mark.anyio
async def test_rate_limit_carries_retry_after(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        with pytest.raises(UpstreamRateLimited) as info:
            await ADAPTER.chat(Call(client, credential(fake), "fail-429"), chat())
    assert info.value.retry_after == 0.0


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [False, True])
async def test_unavailable_and_bad_request(fake: ServerThread, stream: bool) -> None:
    async with Upstream(allow_private=True) as client:
        with pytest.raises(UpstreamUnavailable):
            call = Call(client, credential(fake), "fail-503")
            await (collect(ADAPTER, call, chat()) if stream else ADAPTER.chat(call, chat()))
        with pytest.raises(UpstreamBadRequest):
            call = Call(client, credential(fake), "fail-400")
            await (collect(ADAPTER, call, chat()) if stream else ADAPTER.chat(call, chat()))


@pytest.mark.anyio
async def test_timeout_and_unreachable(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        with pytest.raises(UpstreamTimeout):
            await ADAPTER.chat(
                Call(client, credential(fake), "slow", timeout=Timeouts(read=0.3)), chat()
            )
        closed = Credential(
            "key-1",
            "openai",
            "api_key",
            {"api_key": KEY},
            {"base_url": f"http://127.0.0.1:{free_port()}/v1"},
        )
        with pytest.raises(UpstreamUnavailable) as info:
            await ADAPTER.chat(Call(client, closed, "gpt-4o-mini"), chat())
    assert KEY not in str(info.value)


@pytest.mark.anyio
async def test_verify(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        await ADAPTER.verify(Call(client, credential(fake), ""))
        assert (last(fake).method, last(fake).path) == ("GET", "/v1/models")
        with pytest.raises(UpstreamAuthFailed):
            await ADAPTER.verify(Call(client, credential(fake, key=WRONG_KEY), ""))
        with pytest.raises(UpstreamAuthFailed) as info:
            await ADAPTER.verify(Call(client, credential(fake, key=""), ""))
    assert "didn't provide an API key" in info.value.message


VENDORS = [p for p in catalog.PROVIDERS if "openai_compatible" in p.tags]


@pytest.mark.anyio
@pytest.mark.parametrize("spec", VENDORS, ids=[p.id for p in VENDORS])
async def test_every_vendor_row_chats_through_the_registry(
    fake: ServerThread, spec: catalog.ProviderSpec
) -> None:
    adapter = Adapters().get(spec, "api_key")
    assert isinstance(adapter, OpenAIAdapter)
    assert spec.default_base_url and spec.default_base_url.startswith("https://")
    async with Upstream(allow_private=True) as client:
        result = await adapter.chat(
            Call(client, credential(fake, provider=spec.id), "m"), chat("vendor call")
        )
    assert result["choices"][0]["message"]["content"] == "echo: vendor call"
    assert last(fake).headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.anyio
async def test_ollama_sends_no_authorization_header(open_fake: ServerThread) -> None:
    adapter = Adapters().get(catalog.BY_ID["ollama"], "none")
    cred = Credential("key-o", "ollama", "none", {}, {"base_url": f"{open_fake.url}/v1"})
    async with Upstream(allow_private=True) as client:
        call = Call(client, cred, "llama3.2")
        result = await adapter.chat(call, chat("local model"))
        assert "authorization" not in last(open_fake).headers
        chunks = [c async for c in adapter.chat_stream(call, chat("local model"))]
        embedded = await adapter.embeddings(call, {"model": "x", "input": "hi"})
        await adapter.verify(call)
    assert result["choices"][0]["message"]["content"] == "echo: local model"
    assert chunks[-1]["usage"]["total_tokens"] > 0
    assert len(embedded["data"]) == 1
    assert "authorization" not in last(open_fake).headers


@pytest.mark.anyio
async def test_openai_compatible_key_is_optional(
    open_fake: ServerThread, fake: ServerThread
) -> None:
    adapter = Adapters().get(catalog.BY_ID["openai_compatible"], "api_key")
    async with Upstream(allow_private=True) as client:
        no_key = Credential(
            "key-c", "openai_compatible", "api_key", {}, {"base_url": f"{open_fake.url}/v1"}
        )
        await adapter.chat(Call(client, no_key, "m"), chat())
        assert "authorization" not in last(open_fake).headers
        await adapter.chat(
            Call(client, credential(fake, provider="openai_compatible"), "m"), chat()
        )
        assert last(fake).headers["authorization"] == f"Bearer {KEY}"


def test_registry_picks_the_adapter_per_auth_method() -> None:
    openai_spec = catalog.BY_ID["openai"]
    assert type(Adapters().get(openai_spec, "api_key")) is OpenAIAdapter
    assert type(Adapters().get(openai_spec, "azure")) is AzureOpenAIAdapter
    assert type(Adapters().get(openai_spec, "azure_entra_id")) is AzureOpenAIAdapter
    assert type(Adapters().get(catalog.BY_ID["databricks"], "token")) is DatabricksAdapter


@pytest.mark.anyio
async def test_error_inside_a_200_stream_is_raised() -> None:
    chunks: list[Any] = []

    def handler(request: Recorded) -> Canned:
        body = (
            b'data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
            b'data: {"error":{"message":"overloaded","type":"server_error"}}\n\n'
        )
        return 200, body, {"content-type": "text/event-stream"}

    with serve_canned(handler) as server, pytest.raises(UpstreamUnavailable, match="overl"):
        cred = Credential(
            "k", "openai", "api_key", {"api_key": KEY}, {"base_url": f"{server.url}/v1"}
        )
        async with Upstream(allow_private=True) as client:
            async for chunk in ADAPTER.chat_stream(Call(client, cred, "m"), chat()):
                chunks.append(chunk)
    assert chunks[0]["choices"][0]["delta"]["content"] == "hi"
