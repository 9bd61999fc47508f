"""``/v1/responses`` in detail: which upstream API each target gets, what is passed
through natively and what is translated, stored responses on OpenAI itself, and a
failure after the stream began."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
from starlette.applications import Starlette

from keyhouse.testing.fakes.anthropic import create_app as anthropic_fake
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import ServerThread, serve
from tests.api.gateway_world import api_key, chat, embeddings, key, openai_client, serve_gateway

TOKEN = "kh_at_responses_tests"
OPENAI_KEY = "sk-responses-" + "r" * 30
ANTHROPIC_KEY = "sk-ant-responses-" + "a" * 30
AZURE_KEY = "azure-responses-" + "z" * 20
TOOLS: Any = [
    {
        "type": "function",
        "name": "lookup",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    },
    {
        "type": "namespace",
        "name": "crm",
        "description": "CRM tools.",
        "tools": [{"type": "function", "name": "find", "parameters": {"type": "object"}}],
    },
    {"type": "web_search"},
]


@dataclass
class World:
    gateway: ServerThread
    gpt: Starlette


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    gpt_app = openai_fake(api_key=OPENAI_KEY, azure_api_key=AZURE_KEY)
    with serve(gpt_app) as gpt, serve(anthropic_fake(api_key=ANTHROPIC_KEY)) as claude:
        endpoints = [
            chat("native", "k-oai", "openai", "gpt-4o-mini"),
            chat("compat", "k-compat", "openai_compatible", "my-model"),
            chat("claude-midstream", "k-ant", "anthropic", "fail-midstream"),
            chat("azure-new", "k-az-new", "openai", "my-deployment"),
            chat("azure-old", "k-az-old", "openai", "my-deployment"),
            embeddings("embed", "k-oai", "openai", "text-embedding-3-small"),
        ]
        azure = {"api_key": AZURE_KEY}
        credentials = [
            api_key("k-oai", "openai", OPENAI_KEY, f"{gpt.url}/v1"),
            api_key("k-compat", "openai_compatible", OPENAI_KEY, f"{gpt.url}/v1"),
            key(
                "k-az-new",
                "openai",
                azure,
                "azure",
                endpoint_url=gpt.url,
                api_version="2025-04-01-preview",
            ),
            key(
                "k-az-old", "openai", azure, "azure", endpoint_url=gpt.url, api_version="2024-10-21"
            ),
            api_key("k-ant", "anthropic", ANTHROPIC_KEY, claude.url),
        ]
        with serve_gateway(endpoints, credentials, TOKEN) as server:
            yield World(server, gpt_app)


def _sdk(world: World) -> openai.OpenAI:
    return openai_client(world.gateway, TOKEN)


def _last(world: World) -> Any:
    return world.gpt.state.calls[-1]


def test_openai_gets_the_body_as_sent(world: World) -> None:
    sent: Any = {
        "input": [{"role": "user", "content": "find it"}],
        "tools": TOOLS,
        "tool_choice": "none",
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "reasoning": {"summary": "auto"},
        "prompt_cache_key": "session-1",
        "parallel_tool_calls": True,
    }
    reply = _sdk(world).responses.create(model="native", **sent)
    assert _last(world).path == "/v1/responses"
    assert _last(world).json == {**sent, "model": "gpt-4o-mini"}
    assert reply.output_text == "echo: find it" and reply.model == "native"


def test_other_providers_get_chat_completions(world: World) -> None:
    # "namespace" is not in the SDK's ToolChoiceFunctionParam; the gateway accepts it.
    choice: Any = {"type": "function", "name": "find", "namespace": "crm"}
    reply = _sdk(world).responses.create(
        model="compat", tools=TOOLS, input="find it", tool_choice=choice
    )
    seen = _last(world)
    assert seen.path == "/v1/chat/completions"
    # The hosted tool is left out; the namespaced one is flattened and comes back whole.
    assert [t["function"]["name"] for t in seen.json["tools"]] == ["lookup", "crm__find"]
    call = reply.output[0]
    assert call.type == "function_call" and call.name == "find"
    assert call.namespace == "crm"  # type: ignore[union-attr]


def test_stored_responses_chain_on_openai_itself(world: World) -> None:
    client = _sdk(world)
    first = client.responses.create(model="native", input="remember me", store=True)
    again = client.responses.create(model="native", input="and now", previous_response_id=first.id)
    assert again.output_text == "echo: and now"
    assert _last(world).json["previous_response_id"] == first.id
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="compat", input="and now", previous_response_id=first.id)
    assert "does not store responses" in str(refused.value)


def test_a_failure_after_the_stream_began_ends_it_with_response_failed(world: World) -> None:
    http = httpx.Client(
        base_url=world.gateway.url, timeout=20, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with (
        http,
        http.stream(
            "POST",
            "/v1/responses",
            json={"model": "claude-midstream", "input": "hi", "stream": True},
        ) as response,
    ):
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line.startswith("event: ")]
    assert lines[:2] == ["event: response.created", "event: response.in_progress"]
    assert lines[-2:] == ["event: error", "event: response.failed"]


def test_bad_requests_are_openai_400s(world: World) -> None:
    client = _sdk(world)
    with pytest.raises(openai.BadRequestError):
        client.responses.create(model="native", input="x", max_output_tokens=5)
    with pytest.raises(openai.BadRequestError) as missing:
        client.responses.create(model="compat")  # type: ignore[call-overload]
    assert missing.value.body["param"] == "input"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as wrong_task:
        client.responses.create(model="embed", input="x")
    assert wrong_task.value.body["param"] == "model"  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model="nope", input="x")


@pytest.mark.parametrize("stream", [False, True])
def test_azure_has_the_api_from_2025_03_01_on(world: World, stream: bool) -> None:
    client = _sdk(world)
    for endpoint, path in (
        ("azure-new", "/openai/responses"),
        ("azure-old", "/openai/deployments/my-deployment/chat/completions"),
    ):
        if stream:
            events = list(client.responses.create(model=endpoint, input="hi azure", stream=True))
            text = events[-1].response.output_text  # type: ignore[union-attr]
        else:
            text = client.responses.create(model=endpoint, input="hi azure").output_text
        assert text == "echo: hi azure"
        seen = _last(world)
        assert seen.path == path, endpoint
        assert seen.headers["api-key"] == AZURE_KEY
        if endpoint == "azure-new":
            assert seen.json["model"] == "my-deployment"
            assert seen.query.startswith("api-version=2025-04-01-preview")


@pytest.mark.parametrize("stream", [False, True])
def test_a_passed_through_answer_never_shows_the_key(world: World, stream: bool) -> None:
    # The fake echoes its input: an answer that carries the upstream key is redacted.
    client = _sdk(world)
    if stream:
        events = list(
            client.responses.create(model="native", input=f"say {OPENAI_KEY}", stream=True)
        )
        text = events[-1].response.output_text  # type: ignore[union-attr]
        assert all(OPENAI_KEY not in e.model_dump_json() for e in events)
    else:
        text = client.responses.create(model="native", input=f"say {OPENAI_KEY}").output_text
    assert text == "echo: say [REDACTED]"
