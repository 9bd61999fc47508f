"""The official ``anthropic`` SDK on ``/v1/messages``: text, streaming, tools and errors,
served by an Anthropic upstream and by an OpenAI one (any endpoint serves either SDK)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from keyhouse.testing.fakes.anthropic import create_app as anthropic_fake
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import ServerThread, serve
from tests.api.gateway_world import anthropic_client, api_key, chat, embeddings, serve_gateway
from tests.conftest import CANARY

TOKEN = "kh_at_anthropic_sdk_tests"
ANTHROPIC_KEY = "sk-ant-api03-" + "k" * 40
BACKENDS = ["claude", "gpt"]  # endpoint names: Anthropic upstream, OpenAI upstream

TOOLS: Any = [
    {
        "name": "lookup",
        "description": "Look a word up",
        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
    }
]


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerThread]:
    with (
        serve(anthropic_fake(api_key=ANTHROPIC_KEY)) as claude,
        serve(openai_fake(api_key=CANARY)) as gpt,
    ):
        endpoints = [
            chat("claude", "k-ant", "anthropic", "claude-sonnet-4-5"),
            chat("gpt", "k-oai", "openai", "gpt-4o-mini"),
            chat("busy", "k-oai", "openai", "fail-429", max_retries=0),
            embeddings("embed", "k-oai", "openai", "text-embedding-3-small"),
        ]
        credentials = [
            api_key("k-ant", "anthropic", ANTHROPIC_KEY, claude.url),
            api_key("k-oai", "openai", CANARY, f"{gpt.url}/v1"),
        ]
        with serve_gateway(endpoints, credentials, TOKEN) as server:
            yield server


def _client(gateway: ServerThread, token: str = TOKEN) -> anthropic.Anthropic:
    return anthropic_client(gateway, token)


@pytest.mark.parametrize("model", BACKENDS)
def test_text(gateway: ServerThread, model: str) -> None:
    message = _client(gateway).messages.create(
        model=model,
        max_tokens=100,
        system="be brief",
        messages=[{"role": "user", "content": "hello there"}],
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text"
    assert message.content[0].text == "echo: hello there"
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 3
    assert message.model == model


@pytest.mark.parametrize("model", BACKENDS)
def test_streaming(gateway: ServerThread, model: str) -> None:
    with _client(gateway).messages.stream(
        model=model, max_tokens=100, messages=[{"role": "user", "content": "one two three"}]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert "".join(pieces) == "echo: one two three"
    assert len(pieces) > 1
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 4


@pytest.mark.parametrize("model", BACKENDS)
def test_tool_use_and_tool_result(gateway: ServerThread, model: str) -> None:
    client = _client(gateway)
    messages: list[Any] = [{"role": "user", "content": "weather in Oslo"}]
    first = client.messages.create(model=model, max_tokens=100, tools=TOOLS, messages=messages)
    assert first.stop_reason == "tool_use"
    (use,) = [b for b in first.content if b.type == "tool_use"]
    assert use.name == "lookup"
    assert use.input == {"q": "weather in Oslo"}
    messages += [
        {"role": "assistant", "content": first.content},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}],
        },
    ]
    second = client.messages.create(model=model, max_tokens=100, tools=TOOLS, messages=messages)
    assert second.content[0].type == "text"
    assert second.content[0].text == "tool said: sunny"


@pytest.mark.parametrize("model", BACKENDS)
def test_streamed_tool_use(gateway: ServerThread, model: str) -> None:
    with _client(gateway).messages.stream(
        model=model, max_tokens=100, tools=TOOLS, messages=[{"role": "user", "content": "find it"}]
    ) as stream:
        final = stream.get_final_message()
    (use,) = [b for b in final.content if b.type == "tool_use"]
    assert use.input == {"q": "find it"}
    assert final.stop_reason == "tool_use"


def test_errors_reach_the_sdk_as_its_typed_exceptions(gateway: ServerThread) -> None:
    hi: Any = [{"role": "user", "content": "hi"}]
    with pytest.raises(anthropic.AuthenticationError) as auth:
        _client(gateway, "kh_at_wrong").messages.create(model="gpt", max_tokens=5, messages=hi)
    assert auth.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "The access token is not valid."},
    }
    with pytest.raises(anthropic.NotFoundError) as missing:
        _client(gateway).messages.create(model="nope", max_tokens=5, messages=hi)
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    with pytest.raises(anthropic.RateLimitError):
        _client(gateway).messages.create(model="busy", max_tokens=5, messages=hi)
    with pytest.raises(anthropic.BadRequestError):
        _client(gateway).messages.create(model="embed", max_tokens=5, messages=hi)
