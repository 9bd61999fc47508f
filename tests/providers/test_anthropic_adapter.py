"""The Anthropic adapter against the Anthropic fake, which validates request bodies as
strictly as the real Messages API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from keyhouse.errors import (
    Unsupported,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from keyhouse.gateway.upstream import Upstream
from keyhouse.providers import catalog
from keyhouse.providers.anthropic import AnthropicAdapter
from keyhouse.providers.base import Call, Credential
from keyhouse.providers.registry import Adapters
from keyhouse.testing.fakes.anthropic import create_app
from keyhouse.testing.fakes.server import Canned, Recorded, ServerThread, serve, serve_canned
from tests.providers.raw import http_post

KEY = "sk-ant-api03-good-0123456789abcdef"
WRONG_KEY = "sk-ant-api03-bad-fedcba9876543210"
MODEL = "claude-sonnet-4-5"
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
    "rkJggg=="
)
TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    },
}
ADAPTER = AnthropicAdapter(catalog.BY_ID["anthropic"])


@pytest.fixture(scope="module")
def fake() -> Iterator[ServerThread]:
    with serve(create_app(api_key=KEY)) as server:
        yield server


def call(client: Upstream, server: ServerThread, key: str = KEY, model: str = MODEL) -> Call:
    cred = Credential("key-a", "anthropic", "api_key", {"api_key": key}, {"base_url": server.url})
    return Call(client, cred, model)


def sent(server: ServerThread) -> Recorded:
    calls: list[Recorded] = server.app.state.calls
    return calls[-1]


def chat(text: str = "hello claude", **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **extra}


async def collect(c: Call, request: dict[str, Any]) -> list[dict[str, Any]]:
    return [chunk async for chunk in ADAPTER.chat_stream(c, request)]


def text_of(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


@pytest.mark.anyio
async def test_chat_headers_system_and_default_max_tokens(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        result = await ADAPTER.chat(
            call(client, fake),
            {
                "model": "endpoint",
                "messages": [
                    {"role": "system", "content": "Answer briefly."},
                    {"role": "user", "content": "first"},
                    {"role": "assistant", "content": "reply"},
                    {"role": "user", "content": "second one"},
                ],
            },
        )
    seen = sent(fake)
    assert seen.path == "/v1/messages"
    assert seen.headers["x-api-key"] == KEY
    assert seen.headers["anthropic-version"] == "2023-06-01"
    assert seen.headers["content-type"] == "application/json"
    assert "authorization" not in seen.headers
    assert seen.json["system"] == "Answer briefly."
    assert [m["role"] for m in seen.json["messages"]] == ["user", "assistant", "user"]
    assert seen.json["max_tokens"] == 4096
    assert seen.json["model"] == MODEL
    assert result["model"] == MODEL
    assert result["choices"][0]["message"] == {"role": "assistant", "content": "echo: second one"}
    assert result["choices"][0]["finish_reason"] == "stop"
    # system 2 + first 1 + reply 1 + second one 2 = 6 prompt words; "echo: second one" = 3
    assert result["usage"] == {"prompt_tokens": 6, "completion_tokens": 3, "total_tokens": 9}


@pytest.mark.anyio
async def test_sampling_params_reach_the_wire(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        result = await ADAPTER.chat(
            call(client, fake),
            chat(
                "alpha beta gamma delta",
                temperature=0.4,
                top_p=0.9,
                stop=["gamma", "\n"],
                max_completion_tokens=64,
                user="user-7",
                seed=3,
            ),
        )
    body = sent(fake).json
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.4, 0.9, 64)
    assert body["stop_sequences"] == ["gamma"]
    assert body["metadata"] == {"user_id": "user-7"}
    assert result["choices"][0]["message"]["content"] == "echo: alpha beta "
    assert result["choices"][0]["finish_reason"] == "stop"


@pytest.mark.anyio
async def test_max_tokens_finish_is_length(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        result = await ADAPTER.chat(call(client, fake), chat("a b c d e", max_tokens=2))
        chunks = await collect(call(client, fake), chat("a b c d e", max_tokens=2))
    assert result["choices"][0]["finish_reason"] == "length"
    assert result["choices"][0]["message"]["content"] == "echo: a"
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "length"


@pytest.mark.anyio
async def test_streaming_text_and_usage(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        chunks = await collect(call(client, fake), chat("stream this now"))
    assert sent(fake).json["stream"] is True
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert text_of(chunks) == "echo: stream this now"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


@pytest.mark.anyio
async def test_tool_round_trip(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        first = await ADAPTER.chat(
            call(client, fake), chat("weather in Oslo", tools=[TOOL], tool_choice="required")
        )
        assert sent(fake).json["tool_choice"] == {"type": "any"}
        assert sent(fake).json["tools"][0]["input_schema"] == TOOL["function"]["parameters"]
        choice = first["choices"][0]
        assert choice["finish_reason"] == "tool_calls"
        tool_call = choice["message"]["tool_calls"][0]
        assert tool_call["function"]["name"] == "get_weather"
        assert json.loads(tool_call["function"]["arguments"]) == {"q": "weather in Oslo"}
        # The fake rejects a tool_result that does not answer the previous tool_use, so
        # this proves the ids and turn structure survive the conversion.
        second = await ADAPTER.chat(
            call(client, fake),
            {
                "model": MODEL,
                "tools": [TOOL],
                "messages": [
                    {"role": "user", "content": "weather in Oslo"},
                    choice["message"],
                    {"role": "tool", "tool_call_id": tool_call["id"], "content": "minus five"},
                ],
            },
        )
        assert second["choices"][0]["message"]["content"] == "tool said: minus five"
        chunks = await collect(call(client, fake), chat("weather in Oslo", tools=[TOOL]))
    deltas = [
        d for c in chunks if c["choices"] for d in c["choices"][0]["delta"].get("tool_calls") or []
    ]
    assert deltas[0]["id"] == tool_call["id"] and deltas[0]["index"] == 0
    arguments = "".join(d["function"]["arguments"] for d in deltas)
    assert json.loads(arguments) == {"q": "weather in Oslo"}
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "tool_calls"


@pytest.mark.anyio
async def test_image_input(fake: ServerThread) -> None:
    content = [
        {"type": "text", "text": "describe"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.jpg"}},
    ]
    async with Upstream(allow_private=True) as client:
        result = await ADAPTER.chat(
            call(client, fake), {"model": MODEL, "messages": [{"role": "user", "content": content}]}
        )
    blocks = sent(fake).json["messages"][0]["content"]
    assert blocks[1]["source"] == {"type": "base64", "media_type": "image/png", "data": PNG}
    assert blocks[2]["source"] == {"type": "url", "url": "https://example.com/a.jpg"}
    assert result["choices"][0]["message"]["content"] == "echo: describe"


@pytest.mark.anyio
async def test_embeddings_are_unsupported(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        with pytest.raises(Unsupported):
            await ADAPTER.embeddings(call(client, fake), {"model": "x", "input": "hi"})


@pytest.mark.anyio
@pytest.mark.parametrize("stream", [False, True])
async def test_wrong_key_is_auth_failure_without_the_key(fake: ServerThread, stream: bool) -> None:
    async with Upstream(allow_private=True) as client:
        c = call(client, fake, key=WRONG_KEY)
        with pytest.raises(UpstreamAuthFailed) as info:
            await (collect(c, chat()) if stream else ADAPTER.chat(c, chat()))
        raw = await http_post(
            f"{fake.url}/v1/messages",
            json=chat(max_tokens=5),
            headers={"x-api-key": WRONG_KEY, "anthropic-version": "2023-06-01"},
        )
    assert WRONG_KEY in raw.text  # the hostile fake echoes it…
    assert "invalid x-api-key: [REDACTED]" in info.value.message
    assert WRONG_KEY not in str(info.value) and WRONG_KEY not in repr(info.value)  # …we don't
    assert info.value.upstream_status == 401


@pytest.mark.anyio
async def test_rate_limit_unavailable_and_overloaded(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        with pytest.raises(UpstreamRateLimited) as info:
            await ADAPTER.chat(call(client, fake, model="fail-429"), chat())
        assert info.value.retry_after == 0.0
        for model in ("fail-503", "fail-529"):
            with pytest.raises(UpstreamUnavailable):
                await ADAPTER.chat(call(client, fake, model=model), chat())
            with pytest.raises(UpstreamUnavailable):
                await collect(call(client, fake, model=model), chat())
        with pytest.raises(UpstreamBadRequest):
            await ADAPTER.chat(call(client, fake, model="fail-400"), chat())


@pytest.mark.anyio
async def test_error_event_mid_stream_is_raised(fake: ServerThread) -> None:
    chunks: list[dict[str, Any]] = []
    async with Upstream(allow_private=True) as client:
        with pytest.raises(UpstreamUnavailable, match="Overloaded"):
            async for chunk in ADAPTER.chat_stream(
                call(client, fake, model="fail-midstream"), chat()
            ):
                chunks.append(chunk)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"


@pytest.mark.anyio
async def test_stream_cut_short_is_an_error() -> None:
    def handler(request: Recorded) -> Canned:
        body = (
            b'event: message_start\ndata: {"type":"message_start","message":{"id":"m",'
            b'"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
        )
        return 200, body, {"content-type": "text/event-stream"}

    with serve_canned(handler) as server:
        async with Upstream(allow_private=True) as client:
            cred = Credential(
                "k", "anthropic", "api_key", {"api_key": KEY}, {"base_url": f"{server.url}/v1"}
            )
            with pytest.raises(UpstreamUnavailable, match="before it finished"):
                await collect(Call(client, cred, MODEL), chat())


@pytest.mark.anyio
async def test_verify(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        await ADAPTER.verify(call(client, fake))
        assert (sent(fake).method, sent(fake).path) == ("GET", "/v1/models")
        with pytest.raises(UpstreamAuthFailed) as info:
            await ADAPTER.verify(call(client, fake, key=WRONG_KEY))
    assert WRONG_KEY not in str(info.value)


@pytest.mark.anyio
async def test_fake_rejects_what_the_real_api_rejects(fake: ServerThread) -> None:
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    no_max = await http_post(f"{fake.url}/v1/messages", headers=headers, json=chat())
    system_role = await http_post(
        f"{fake.url}/v1/messages",
        headers=headers,
        json={"model": MODEL, "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
    )
    no_version = await http_post(
        f"{fake.url}/v1/messages", headers={"x-api-key": KEY}, json=chat(max_tokens=5)
    )
    no_key = await http_post(
        f"{fake.url}/v1/messages",
        json=chat(max_tokens=5),
        headers={"anthropic-version": "2023-06-01"},
    )
    assert no_max.status_code == 400
    assert no_max.json()["error"] == {
        "type": "invalid_request_error",
        "message": "max_tokens: Field required",
    }
    assert system_role.status_code == 400
    assert 'Unexpected role "system"' in system_role.json()["error"]["message"]
    assert no_version.status_code == 400
    assert no_key.status_code == 401
    assert no_key.json()["error"] == {
        "type": "authentication_error",
        "message": "x-api-key header is required",
    }


def test_registry_serves_anthropic_with_this_adapter() -> None:
    assert type(Adapters().get(catalog.BY_ID["anthropic"], "api_key")) is AnthropicAdapter
