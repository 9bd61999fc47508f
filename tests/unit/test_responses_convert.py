"""The pure Responses ↔ chat conversions: requests, answers and the event stream."""

from __future__ import annotations

import json
from typing import Any

import pytest

from keyhouse.errors import BadRequest
from keyhouse.providers.responses_answer import chat_to_response
from keyhouse.providers.responses_request import responses_to_chat
from keyhouse.providers.responses_stream import ChatStreamToResponses, failure_events

SHELL: Any = {"type": "function", "name": "shell", "parameters": {"type": "object"}}
PATCH: Any = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Patch files.",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"},
}
AGENTS: Any = {
    "type": "namespace",
    "name": "agents",
    "description": "Sub-agents.",
    "tools": [{"type": "function", "name": "spawn", "parameters": {}}],
}


def test_a_conversation_of_items_becomes_chat_messages() -> None:
    chat = responses_to_chat(
        {
            "model": "m",
            "instructions": "Be brief.",
            "max_output_tokens": 99,
            "temperature": 0.3,
            "top_p": 0.9,
            "reasoning": {"effort": "low"},
            "tools": [SHELL, PATCH, AGENTS, {"type": "web_search"}],
            "tool_choice": "auto",
            "input": [
                {
                    "type": "message",
                    "role": "developer",
                    "content": [{"type": "input_text", "text": "Rules."}],
                },
                {"role": "user", "content": "list files"},
                {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "xyz"},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "Sure."}],
                },
                {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": "{}"},
                {
                    "type": "custom_tool_call",
                    "call_id": "c2",
                    "name": "apply_patch",
                    "input": "*** Begin Patch",
                },
                {
                    "type": "function_call",
                    "call_id": "c3",
                    "name": "spawn",
                    "namespace": "agents",
                    "arguments": "{}",
                },
                {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
                {
                    "type": "custom_tool_call_output",
                    "call_id": "c2",
                    "output": [{"type": "input_text", "text": "done"}],
                },
                {"type": "function_call_output", "call_id": "c3", "output": "ok"},
            ],
        }
    )
    assert chat["messages"][0] == {"role": "system", "content": "Be brief."}
    assert chat["messages"][1] == {"role": "system", "content": "Rules."}
    assert chat["messages"][2] == {"role": "user", "content": "list files"}
    turn = chat["messages"][3]
    assert turn["role"] == "assistant" and turn["content"] == "Sure."
    assert [c["function"]["name"] for c in turn["tool_calls"]] == [
        "shell",
        "apply_patch",
        "agents__spawn",
    ]
    assert json.loads(turn["tool_calls"][1]["function"]["arguments"]) == {
        "input": "*** Begin Patch"
    }
    assert [m["role"] for m in chat["messages"][4:]] == ["tool", "tool", "tool"]
    assert chat["messages"][5]["content"] == "done"
    assert [t["function"]["name"] for t in chat["tools"]] == [
        "shell",
        "apply_patch",
        "agents__spawn",
    ]  # web_search runs only inside OpenAI
    assert "start: /.+/" in chat["tools"][1]["function"]["description"]
    assert chat["max_tokens"] == 99 and chat["reasoning_effort"] == "low"
    assert chat["temperature"] == 0.3 and chat["top_p"] == 0.9


@pytest.mark.parametrize(
    "body",
    [
        {"previous_response_id": "resp_1", "input": "x"},
        {"conversation": "conv_1", "input": "x"},
        {"background": True, "input": "x"},
        {"input": [{"type": "item_reference", "id": "msg_1"}]},
        {"input": [{"type": "computer_call_output", "call_id": "c"}]},
        {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
        {"input": [{"type": "function_call", "name": "x"}]},
        {"input": "x", "tools": [SHELL], "tool_choice": {"type": "web_search"}},
        {"input": []},
        {"input": 5},
    ],
)
def test_what_cannot_be_translated_is_a_clear_400(body: dict[str, Any]) -> None:
    with pytest.raises(BadRequest) as refused:
        responses_to_chat({"model": "m", **body})
    assert refused.value.status == 400
    assert refused.value.details.get("param")


def test_a_chat_answer_becomes_a_response_with_its_items() -> None:
    request: Any = {
        "model": "m",
        "input": "x",
        "tools": [SHELL, PATCH, AGENTS],
        "instructions": "Be brief.",
        "temperature": 0.5,
    }
    response = chat_to_response(
        {
            "created": 7,
            "choices": [
                {
                    "finish_reason": "tool_calls",
                    "message": {
                        "role": "assistant",
                        "content": "Let me.",
                        "reasoning_content": "hm",
                        "tool_calls": [
                            {"id": "c1", "function": {"name": "shell", "arguments": "{}"}},
                            {
                                "id": "c2",
                                "function": {"name": "apply_patch", "arguments": '{"input": "P"}'},
                            },
                            {"id": "c3", "function": {"name": "agents__spawn", "arguments": "{}"}},
                        ],
                    },
                }
            ],
            "usage": {
                "prompt_tokens": 5,
                "completion_tokens": 2,
                "total_tokens": 7,
                "prompt_tokens_details": {"cached_tokens": 3},
            },
        },
        request,
        "ep",
    )
    assert [o["type"] for o in response["output"]] == [
        "reasoning",
        "message",
        "function_call",
        "custom_tool_call",
        "function_call",
    ]
    assert response["output"][3]["input"] == "P"
    assert response["output"][4]["name"] == "spawn"
    assert response["output"][4]["namespace"] == "agents"
    assert response["status"] == "completed" and response["model"] == "ep"
    assert response["instructions"] == "Be brief." and response["temperature"] == 0.5
    assert response["usage"]["input_tokens_details"]["cached_tokens"] == 3
    assert response["usage"]["total_tokens"] == 7
    cut = chat_to_response(
        {"choices": [{"finish_reason": "length", "message": {"content": "par"}}]}, request, "ep"
    )
    assert cut["status"] == "incomplete"
    assert cut["incomplete_details"] == {"reason": "max_output_tokens"}


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def test_a_chat_stream_becomes_the_responses_event_sequence() -> None:
    converter = ChatStreamToResponses({"model": "m", "input": "x", "tools": [SHELL]}, "ep")
    events: list[dict[str, Any]] = []
    for chunk in [
        _chunk({"role": "assistant", "reasoning_content": "think"}),
        _chunk({"content": "Hello"}),
        _chunk({"content": " there"}),
        _chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "c1", "function": {"name": "shell", "arguments": '{"a"'}}
                ]
            }
        ),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}),
        _chunk({}, "tool_calls"),
        {"choices": [], "usage": {"prompt_tokens": 4, "completion_tokens": 3}},
    ]:
        events += converter.feed(chunk)
    events += converter.finish()
    assert converter.finish() == []
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    final = events[-1]["response"]
    assert [o["type"] for o in final["output"]] == ["reasoning", "message", "function_call"]
    assert final["output"][1]["content"][0]["text"] == "Hello there"
    assert final["output"][2]["arguments"] == '{"a": 1}'
    assert final["usage"]["output_tokens"] == 3 and final["model"] == "ep"
    assert {e["output_index"] for e in events if e["type"].endswith("item.added")} == {0, 1, 2}


def test_a_failure_mid_stream_ends_with_response_failed() -> None:
    converter = ChatStreamToResponses({"model": "m", "input": "x"}, "ep")
    events = converter.feed(_chunk({"content": "Hel"}))
    events += failure_events(events[-1]["sequence_number"], events[0]["response"], "boom", "lost")
    assert [e["type"] for e in events][-2:] == ["error", "response.failed"]
    assert events[-1]["response"]["status"] == "failed"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
