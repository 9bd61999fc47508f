"""The official ``openai`` SDK against the gateway, served by uvicorn, in front of the
OpenAI fake: chat, streaming, tools, embeddings, models and typed errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from keyhouse.gateway.types import Endpoint, Principal, Target
from keyhouse.providers.base import Credential
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import ServerThread, serve
from keyhouse.testing.registry import StaticRegistry, gateway_app
from tests.conftest import CANARY

TOKEN = "kh_at_openai_sdk_test_token"
LIMITED = "kh_at_limited_token"


def _chat(name: str, model: str, key: str | None = "k-openai", **kw: Any) -> Endpoint:
    return Endpoint(id=name, name=name, task="chat", targets=(Target(key, "openai", model),), **kw)


@pytest.fixture(scope="module")
def upstream() -> Iterator[ServerThread]:
    with serve(openai_fake(api_key=CANARY)) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(upstream: ServerThread) -> Iterator[ServerThread]:
    base = {"base_url": f"{upstream.url}/v1"}
    registry = StaticRegistry(
        endpoints=[
            _chat("chat", "gpt-4o-mini"),
            _chat("busy", "fail-429", max_retries=0),
            _chat("down", "fail-503", max_retries=0),
            _chat("refuses", "fail-400"),
            _chat("wrong-key", "gpt-4o-mini", key="k-wrong"),
            _chat("orphan", "gpt-4o-mini", key=None),
            Endpoint(
                id="embed",
                name="embed",
                task="embeddings",
                targets=(Target("k-openai", "openai", "text-embedding-3-small"),),
            ),
        ],
        credentials=[
            Credential("k-openai", "openai", "api_key", {"api_key": CANARY}, base),
            Credential("k-wrong", "openai", "api_key", {"api_key": "sk-wrong-" + "x" * 30}, base),
        ],
        tokens={
            TOKEN: Principal("t1", "sdk-tests", is_admin=False),
            LIMITED: Principal("t2", "limited", is_admin=False, endpoints=frozenset({"embed"})),
        },
    )
    with serve(gateway_app(registry)) as server:
        yield server


def _client(gateway: ServerThread, token: str = TOKEN) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=token, max_retries=0, timeout=20)


def test_chat_completion(gateway: ServerThread, upstream: ServerThread) -> None:
    upstream.app.state.calls.clear()
    answer = _client(gateway).chat.completions.create(
        model="chat",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hello there"},
        ],
        temperature=0.2,
        max_tokens=50,
    )
    assert answer.choices[0].message.content == "echo: hello there"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None and answer.usage.prompt_tokens == 4
    (call,) = upstream.app.state.calls
    assert call.headers["authorization"] == f"Bearer {CANARY}"
    assert call.json["model"] == "gpt-4o-mini"
    assert call.json["temperature"] == 0.2 and "stream" not in call.json


def test_streaming_hides_usage_unless_asked(gateway: ServerThread) -> None:
    client = _client(gateway)
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "one two three"}]
    chunks = list(client.chat.completions.create(model="chat", messages=messages, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three"
    assert all(c.choices and c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"

    chunks = list(
        client.chat.completions.create(
            model="chat", messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4


def test_tool_call_and_tool_result(gateway: ServerThread) -> None:
    client = _client(gateway)
    tools: Any = [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "description": "Look a word up",
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
            },
        }
    ]
    messages: list[Any] = [{"role": "user", "content": "weather in Oslo"}]
    first = client.chat.completions.create(model="chat", messages=messages, tools=tools)
    assert first.choices[0].finish_reason == "tool_calls"
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "lookup"  # type: ignore[union-attr]
    assert call.function.arguments == '{"q": "weather in Oslo"}'  # type: ignore[union-attr]

    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    second = client.chat.completions.create(model="chat", messages=messages, tools=tools)
    assert second.choices[0].message.content == "tool said: sunny"


def test_streamed_tool_call(gateway: ServerThread) -> None:
    tools: Any = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
    stream = _client(gateway).chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "find it"}], tools=tools, stream=True
    )
    arguments = ""
    names = []
    for chunk in stream:
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            if tc.function and tc.function.name:
                names.append(tc.function.name)
            arguments += (tc.function.arguments or "") if tc.function else ""
    assert names == ["lookup"]
    assert arguments == '{"q": "find it"}'


def test_embeddings(gateway: ServerThread) -> None:
    result = _client(gateway).embeddings.create(model="embed", input=["a cat", "a dog"])
    assert [d.index for d in result.data] == [0, 1]
    assert len(result.data[0].embedding) == 8
    assert result.data[0].embedding != result.data[1].embedding


def test_models_lists_what_the_token_may_call(gateway: ServerThread) -> None:
    ids = [m.id for m in _client(gateway).models.list()]
    assert ids == sorted(["chat", "busy", "down", "refuses", "wrong-key", "orphan", "embed"])
    assert [m.id for m in _client(gateway, LIMITED).models.list()] == ["embed"]
    model = _client(gateway).models.retrieve("chat")
    assert (model.id, model.owned_by) == ("chat", "keyhouse")


@pytest.mark.parametrize(
    ("model", "error", "status", "code"),
    [
        ("no-such-endpoint", openai.NotFoundError, 404, "model_not_found"),
        ("busy", openai.RateLimitError, 429, "upstream_rate_limited"),
        ("down", openai.InternalServerError, 503, "upstream_unavailable"),
        ("refuses", openai.BadRequestError, 400, "upstream_bad_request"),
        ("wrong-key", openai.AuthenticationError, 401, "upstream_auth_failed"),
        ("orphan", openai.InternalServerError, 503, "endpoint_has_no_key"),
        ("embed", openai.BadRequestError, 400, "bad_request"),
    ],
)
def test_errors_reach_the_sdk_as_its_typed_exceptions(
    gateway: ServerThread, model: str, error: type[openai.APIStatusError], status: int, code: str
) -> None:
    with pytest.raises(error) as info:
        _client(gateway).chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.status_code == status
    assert info.value.code == code
    assert isinstance(info.value.body, dict) and info.value.body["message"]


def test_stream_errors_before_the_first_byte_keep_their_status(gateway: ServerThread) -> None:
    with pytest.raises(openai.RateLimitError):
        _client(gateway).chat.completions.create(
            model="busy", messages=[{"role": "user", "content": "hi"}], stream=True
        )


def test_wrong_token_and_forbidden_endpoint(gateway: ServerThread) -> None:
    with pytest.raises(openai.AuthenticationError) as info:
        _client(gateway, "kh_at_nope").chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "hi"}]
        )
    assert info.value.body["type"] == "authentication_error"  # type: ignore[index]
    with pytest.raises(openai.PermissionDeniedError):
        _client(gateway, LIMITED).chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "hi"}]
        )
