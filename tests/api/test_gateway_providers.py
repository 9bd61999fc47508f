"""One contract through the gateway for every native provider fake: the ``openai`` SDK
gets the same answers — whole, streamed, with tools — whoever serves the endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import openai
import pytest

from keyhouse.gateway.types import Endpoint, Principal, Target
from keyhouse.providers.base import Credential
from keyhouse.testing.fakes.anthropic import create_app as anthropic_fake
from keyhouse.testing.fakes.bedrock import create_app as bedrock_fake
from keyhouse.testing.fakes.gemini import create_app as gemini_fake
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import ServerThread, serve
from keyhouse.testing.registry import StaticRegistry, gateway_app

TOKEN = "kh_at_provider_contract"
AWS_ID, AWS_SECRET = "AKIDKEYHOUSETEST0001", "bedrock-secret-" + "s" * 25
PROVIDERS = ["openai", "anthropic", "gemini", "bedrock"]


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerThread]:
    with ExitStack() as stack:
        oai = stack.enter_context(serve(openai_fake(api_key="sk-oai-" + "o" * 30)))
        ant = stack.enter_context(serve(anthropic_fake(api_key="sk-ant-" + "a" * 30)))
        gem = stack.enter_context(serve(gemini_fake(api_key="AIza" + "g" * 35)))
        bed = stack.enter_context(
            serve(bedrock_fake(access_key_id=AWS_ID, secret_access_key=AWS_SECRET))
        )
        credentials = [
            Credential(
                "openai",
                "openai",
                "api_key",
                {"api_key": "sk-oai-" + "o" * 30},
                {"base_url": f"{oai.url}/v1"},
            ),
            Credential(
                "anthropic",
                "anthropic",
                "api_key",
                {"api_key": "sk-ant-" + "a" * 30},
                {"base_url": ant.url},
            ),
            Credential(
                "gemini", "gemini", "api_key", {"api_key": "AIza" + "g" * 35}, {"base_url": gem.url}
            ),
            Credential(
                "bedrock",
                "bedrock",
                "access_keys",
                {"aws_access_key_id": AWS_ID, "aws_secret_access_key": AWS_SECRET},
                {"region": "us-east-1", "base_url": bed.url},
            ),
        ]
        models = {
            "openai": "gpt-4o-mini",
            "anthropic": "claude-sonnet-4-5",
            "gemini": "gemini-2.0-flash",
            "bedrock": "anthropic.claude-3-haiku-20240307-v1:0",
        }
        registry = StaticRegistry(
            endpoints=[
                Endpoint(id=p, name=p, task="chat", targets=(Target(p, p, models[p]),))
                for p in PROVIDERS
            ],
            credentials=credentials,
            tokens={TOKEN: Principal("t", "tests", is_admin=False)},
        )
        yield stack.enter_context(serve(gateway_app(registry)))


def _client(gateway: ServerThread) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=TOKEN, max_retries=0, timeout=20)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_chat(gateway: ServerThread, provider: str) -> None:
    answer = _client(gateway).chat.completions.create(
        model=provider,
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hello there"},
        ],
    )
    assert answer.choices[0].message.content == "echo: hello there"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage is not None and answer.usage.completion_tokens == 3


@pytest.mark.parametrize("provider", PROVIDERS)
def test_stream(gateway: ServerThread, provider: str) -> None:
    chunks = list(
        _client(gateway).chat.completions.create(
            model=provider,
            messages=[{"role": "user", "content": "one two three"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: one two three"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4


@pytest.mark.parametrize("provider", PROVIDERS)
def test_tools(gateway: ServerThread, provider: str) -> None:
    tools: Any = [
        {
            "type": "function",
            "function": {
                "name": "lookup",
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
            },
        }
    ]
    answer = _client(gateway).chat.completions.create(
        model=provider, messages=[{"role": "user", "content": "weather in Oslo"}], tools=tools
    )
    call = answer.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "lookup"  # type: ignore[union-attr]
    arguments = call.function.arguments  # type: ignore[union-attr]
    assert json.loads(arguments) == {"q": "weather in Oslo"}
