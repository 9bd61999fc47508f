"""The Responses API contract, full stack: the official ``openai`` SDK's
``client.responses.create(...)`` on an endpoint of every provider of the catalog (the
same keys and fakes as ``test_contract``) — whole, streamed, with a tool call round trip.
OpenAI keys are passed through to the fake's strict Responses API; every other provider
is translated to its chat API."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from openai.types.responses import ResponseFunctionToolCall

from tests.api import test_contract
from tests.api.test_contract import NAMES, Case

world = test_contract.world  # the same keys, endpoints and fakes, as a fixture here

World = tuple[str, str, list[Case]]
TOOLS: list[Any] = [
    {
        "type": "function",
        "name": "lookup",
        "description": "Look it up.",
        "parameters": {
            "type": "object",
            "properties": {"q": {"type": "string"}},
            "required": ["q"],
        },
    }
]


def _sdk(world: World) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{world[0]}/v1", api_key=world[1], max_retries=0)


@pytest.mark.parametrize("name", NAMES)
def test_create(world: World, name: str) -> None:
    reply = _sdk(world).responses.create(
        model=f"chat-{name}",
        input="hello there",
        instructions="Be brief.",
        max_output_tokens=50,
        temperature=0.2,
        top_p=1,
        store=False,
    )
    assert reply.output_text == "echo: hello there"
    assert reply.status == "completed"
    assert reply.model == f"chat-{name}"
    assert reply.id.startswith("resp_")
    assert reply.usage is not None and reply.usage.input_tokens > 0
    assert reply.usage.output_tokens == 3


@pytest.mark.parametrize("name", NAMES)
def test_stream(world: World, name: str) -> None:
    events = list(
        _sdk(world).responses.create(
            model=f"chat-{name}",
            stream=True,
            store=False,
            input=[
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": [{"type": "input_text", "text": "hello there"}]},
            ],
        )
    )
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-4:] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "echo: hello there"
    final = events[-1].response  # type: ignore[union-attr]
    assert final.output_text == "echo: hello there"
    assert final.model == f"chat-{name}"
    assert final.usage is not None and final.usage.output_tokens == 3


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("stream", [False, True])
def test_tool_round_trip(world: World, name: str, stream: bool) -> None:
    client = _sdk(world)
    asked: list[Any] = [{"role": "user", "content": "hello there"}]
    if stream:
        events = list(
            client.responses.create(
                model=f"chat-{name}", input=asked, tools=TOOLS, store=False, stream=True
            )
        )
        done = [e for e in events if e.type == "response.function_call_arguments.done"]
        assert len(done) == 1 and json.loads(done[0].arguments) == {"q": "hello there"}
        streamed = "".join(
            e.delta for e in events if e.type == "response.function_call_arguments.delta"
        )
        assert streamed == done[0].arguments
        assert [e.sequence_number for e in events] == list(range(len(events)))
        first = events[-1].response  # type: ignore[union-attr]
    else:
        first = client.responses.create(model=f"chat-{name}", input=asked, tools=TOOLS, store=False)
    calls = [o for o in first.output if o.type == "function_call"]
    assert len(calls) == 1, first.output
    call = calls[0]
    assert isinstance(call, ResponseFunctionToolCall)
    assert call.name == "lookup" and json.loads(call.arguments) == {"q": "hello there"}
    again: list[Any] = [
        *asked,
        call.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": call.call_id, "output": "42"},
    ]
    follow = client.responses.create(model=f"chat-{name}", tools=TOOLS, store=False, input=again)
    assert follow.output_text == "tool said: 42"


@pytest.mark.parametrize("name", NAMES)
def test_previous_response_id_of_an_unstored_response_is_400(world: World, name: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        _sdk(world).responses.create(
            model=f"chat-{name}", input="again", previous_response_id="resp_" + "0" * 48
        )
    assert caught.value.status_code == 400
    assert "previous_response_id" in str(caught.value.body) or "Previous response" in str(
        caught.value.body
    )
