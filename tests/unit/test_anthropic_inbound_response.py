"""OpenAI answers → Anthropic: a ChatCompletion as a Message, its chunks as the events."""

from __future__ import annotations

import json
from typing import Any

import pytest
from anthropic.types import Message

from keyhouse.providers.anthropic_inbound_answer import (
    OpenAIStreamToAnthropic,
    openai_to_anthropic_response,
)
from tests.unit.anthropic_cases import EVENT


def test_inbound_response_becomes_valid_message() -> None:
    resp = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": "On it.",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"a": 1}'},
                        }
                    ],
                },
            }
        ],
        "usage": {
            "prompt_tokens": 50,
            "completion_tokens": 7,
            "total_tokens": 57,
            "prompt_tokens_details": {"cached_tokens": 20},
        },
    }
    message = Message.model_validate(openai_to_anthropic_response(resp, "my-endpoint"))
    assert message.model == "my-endpoint"
    assert message.id.startswith("msg_")
    assert message.stop_reason == "tool_use"
    assert message.content[0].type == "text" and message.content[0].text == "On it."
    tool = message.content[1]
    assert tool.type == "tool_use" and tool.id == "call_1" and tool.input == {"a": 1}
    assert (message.usage.input_tokens, message.usage.output_tokens) == (30, 7)
    assert message.usage.cache_read_input_tokens == 20


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("content_filter", "refusal"),
        (None, "end_turn"),
    ],
)
def test_inbound_finish_reasons(finish: str | None, stop: str) -> None:
    resp = {
        "choices": [
            {"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": "x"}}
        ]
    }
    assert openai_to_anthropic_response(resp, "m")["stop_reason"] == stop


# --- OpenAI stream → Anthropic events ----------------------------------------------------


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _accumulate(events: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Rebuild the message the way the Anthropic SDK does, checking the event grammar."""
    message: dict[str, Any] = {}
    open_blocks: set[int] = set()
    for name, data in events:
        assert name == data["type"]
        EVENT.validate_python(data)
        if name == "message_start":
            message = dict(data["message"])
            message["content"] = []
        elif name == "content_block_start":
            assert data["index"] == len(message["content"]) and not open_blocks
            open_blocks.add(data["index"])
            message["content"].append(dict(data["content_block"], _json=""))
        elif name == "content_block_delta":
            assert data["index"] in open_blocks
            block, delta = message["content"][data["index"]], data["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            else:
                block["_json"] += delta["partial_json"]
        elif name == "content_block_stop":
            open_blocks.remove(data["index"])
        elif name == "message_delta":
            assert not open_blocks
            message.update(data["delta"])
            message["usage"] = data["usage"]
    assert events[-1][0] == "message_stop"
    for block in message["content"]:
        raw = block.pop("_json")
        if block["type"] == "tool_use":
            block["input"] = json.loads(raw or "{}")
    return message


def test_openai_stream_becomes_anthropic_event_sequence() -> None:
    converter = OpenAIStreamToAnthropic("my-endpoint")
    chunks = [
        _chunk({"role": "assistant", "content": ""}),
        _chunk({"content": "Let me"}),
        _chunk({"content": " check."}),
        _chunk(
            {
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ]
            }
        ),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
        _chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "Oslo"}'}}]}),
        _chunk(
            {
                "tool_calls": [
                    {
                        "index": 1,
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": "{}"},
                    }
                ]
            }
        ),
        _chunk({}, "tool_calls"),
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt",
            "choices": [],
            "usage": {"prompt_tokens": 11, "completion_tokens": 9, "total_tokens": 20},
        },
    ]
    events = [e for c in chunks for e in converter.feed(c)] + converter.finish()
    assert converter.finish() == []
    message = _accumulate(events)
    Message.model_validate(message)
    assert message["content"] == [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Oslo"}},
        {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {}},
    ]
    assert message["stop_reason"] == "tool_use"
    assert message["usage"]["input_tokens"] == 11
    assert message["usage"]["output_tokens"] == 9


def test_openai_stream_finish_without_chunks_is_still_well_formed() -> None:
    events = OpenAIStreamToAnthropic("m").finish()
    assert [name for name, _ in events] == ["message_start", "message_delta", "message_stop"]
    assert _accumulate(events)["stop_reason"] == "end_turn"


def test_openai_stream_length_finish_and_error_event() -> None:
    converter = OpenAIStreamToAnthropic("m")
    events = converter.feed(_chunk({"content": "abc"}, "length")) + converter.finish()
    assert _accumulate(events)["stop_reason"] == "max_tokens"
    name, data = OpenAIStreamToAnthropic.error("Upstream failed.", "overloaded_error")
    assert name == "error"
    assert data == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Upstream failed."},
    }
