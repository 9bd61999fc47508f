"""Anthropic answers → OpenAI: a whole Message as a ChatCompletion, its stream as chunks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from keyhouse.providers.anthropic_answer import (
    AnthropicStreamToOpenAI,
    anthropic_to_openai_response,
)


@pytest.mark.parametrize(
    ("stop_reason", "finish_reason"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
    ],
)
def test_stop_reasons_map_to_finish_reasons(stop_reason: str, finish_reason: str) -> None:
    resp = {
        "id": "msg_1",
        "content": [{"type": "text", "text": "hi"}],
        "stop_reason": stop_reason,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    out = anthropic_to_openai_response(resp, "claude-x")
    assert ChatCompletion.model_validate(out).choices[0].finish_reason == finish_reason


def test_response_with_text_tool_use_thinking_and_cached_usage() -> None:
    resp = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-real",
        "content": [
            {"type": "thinking", "thinking": "Let me think.", "signature": "sig"},
            {"type": "text", "text": "Let me check."},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "get_weather",
                "input": {"city": "Zürich"},
            },
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 10,
            "output_tokens": 5,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 20,
        },
    }
    out = anthropic_to_openai_response(resp, "my-model")
    completion = ChatCompletion.model_validate(out)
    message = completion.choices[0].message
    assert completion.model == "my-model"
    assert message.content == "Let me check."
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert call.id == "toolu_1"
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Zürich"}  # type: ignore[union-attr]
    assert out["choices"][0]["message"]["reasoning_content"] == "Let me think."
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 130
    assert completion.usage.completion_tokens == 5
    assert completion.usage.total_tokens == 135
    assert completion.usage.prompt_tokens_details is not None
    assert completion.usage.prompt_tokens_details.cached_tokens == 100


def test_tool_only_response_has_null_content() -> None:
    resp = {
        "id": "m",
        "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    assert anthropic_to_openai_response(resp, "m")["choices"][0]["message"]["content"] is None


# --- Anthropic stream → OpenAI chunks ----------------------------------------------------

ANTHROPIC_EVENTS: list[tuple[str, dict[str, Any]]] = [
    (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_9",
                "type": "message",
                "role": "assistant",
                "model": "claude-real",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 12, "output_tokens": 1, "cache_read_input_tokens": 3},
            },
        },
    ),
    (
        "content_block_start",
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ),
    ("ping", {"type": "ping"}),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": "Checking"},
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "text_delta", "text": " now."},
        },
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {
                "type": "tool_use",
                "id": "toolu_a",
                "name": "get_weather",
                "input": {},
            },
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": ""},
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"city"'},
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": ': "Oslo"}'},
        },
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 1}),
    (
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 2,
            "content_block": {"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {}},
        },
    ),
    (
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 2,
            "delta": {"type": "input_json_delta", "partial_json": "{}"},
        },
    ),
    ("content_block_stop", {"type": "content_block_stop", "index": 2}),
    (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": None},
            "usage": {"output_tokens": 30},
        },
    ),
    ("message_stop", {"type": "message_stop"}),
]


def test_anthropic_stream_becomes_valid_openai_chunks() -> None:
    converter = AnthropicStreamToOpenAI("my-model")
    chunks = [c for event, data in ANTHROPIC_EVENTS for c in converter.feed(event, data)]
    parsed = [ChatCompletionChunk.model_validate(c) for c in chunks]
    assert converter.done
    assert parsed[0].choices[0].delta.role == "assistant"
    assert {c.id for c in parsed} == {"msg_9"}
    text = "".join(c.choices[0].delta.content or "" for c in parsed if c.choices)
    assert text == "Checking now."
    calls: dict[int, dict[str, str]] = {}
    for chunk in parsed:
        for delta in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            entry = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += delta.id or ""
            entry["name"] += (delta.function and delta.function.name) or ""
            entry["arguments"] += (delta.function and delta.function.arguments) or ""
    assert calls == {
        0: {"id": "toolu_a", "name": "get_weather", "arguments": '{"city": "Oslo"}'},
        1: {"id": "toolu_b", "name": "get_time", "arguments": "{}"},
    }
    finishes = [c.choices[0].finish_reason for c in parsed if c.choices]
    assert finishes.count("tool_calls") == 1 and finishes[-1] == "tool_calls"
    assert parsed[-1].choices == []
    assert parsed[-1].usage is not None
    assert (parsed[-1].usage.prompt_tokens, parsed[-1].usage.completion_tokens) == (15, 30)


def test_anthropic_stream_thinking_becomes_reasoning_content() -> None:
    converter = AnthropicStreamToOpenAI("m")
    chunks = converter.feed(
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "hmm"},
        },
    )
    assert chunks[0]["choices"][0]["delta"] == {"reasoning_content": "hmm"}
    assert (
        converter.feed(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "signature_delta", "signature": "x"},
            },
        )
        == []
    )
