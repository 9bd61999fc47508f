"""The pure OpenAI ⇄ Anthropic conversions, both directions.

Outputs are validated against the official SDKs' types, so a shape that either SDK would
refuse fails here rather than in a customer's client.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from anthropic.types import Message, MessageParam, RawMessageStreamEvent
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import TypeAdapter

from keyhouse.errors import BadRequest
from keyhouse.providers.anthropic_convert import (
    DEFAULT_MAX_TOKENS,
    AnthropicStreamToOpenAI,
    OpenAIStreamToAnthropic,
    anthropic_to_openai_request,
    anthropic_to_openai_response,
    openai_to_anthropic_request,
    openai_to_anthropic_response,
)

PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5E"
    "rkJggg=="
)
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}

_messages = TypeAdapter(list[MessageParam])
_events = TypeAdapter(RawMessageStreamEvent)


def to_anthropic(req: dict[str, Any]) -> dict[str, Any]:
    out = openai_to_anthropic_request(req, "claude-x")
    _messages.validate_python(out["messages"])
    return out


# --- OpenAI request → Anthropic request --------------------------------------------------


def test_system_and_developer_messages_become_top_level_system() -> None:
    out = to_anthropic(
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
                {"role": "user", "content": "Hi"},
            ]
        }
    )
    assert out["system"] == "Be brief.\n\nUse French."
    assert out["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    assert out["model"] == "claude-x"


def test_cache_control_on_system_parts_keeps_blocks() -> None:
    out = to_anthropic(
        {
            "messages": [
                {
                    "role": "system",
                    "content": [
                        {
                            "type": "text",
                            "text": "Long rules",
                            "cache_control": {"type": "ephemeral"},
                        }
                    ],
                },
                {"role": "user", "content": "Hi"},
            ]
        }
    )
    assert out["system"] == [
        {"type": "text", "text": "Long rules", "cache_control": {"type": "ephemeral"}}
    ]


def test_max_tokens_defaults_and_prefers_max_completion_tokens() -> None:
    user = [{"role": "user", "content": "Hi"}]
    assert to_anthropic({"messages": user})["max_tokens"] == DEFAULT_MAX_TOKENS == 4096
    assert to_anthropic({"messages": user, "max_tokens": 50})["max_tokens"] == 50
    both = {"messages": user, "max_tokens": 50, "max_completion_tokens": 70}
    assert to_anthropic(both)["max_tokens"] == 70


def test_sampling_params_stop_and_user() -> None:
    out = to_anthropic(
        {
            "messages": [{"role": "user", "content": "Hi"}],
            "temperature": 0.2,
            "top_p": 0.9,
            "stop": ["END", "\n"],
            "user": "u-42",
            "seed": 7,
            "presence_penalty": 1,
            "n": 1,
        }
    )
    assert out["temperature"] == 0.2
    assert out["top_p"] == 0.9
    # Anthropic refuses whitespace-only stop sequences, so "\n" is dropped.
    assert out["stop_sequences"] == ["END"]
    assert out["metadata"] == {"user_id": "u-42"}
    assert not {"seed", "presence_penalty", "n", "stop", "user"} & set(out)
    single = to_anthropic(
        {"messages": [{"role": "user", "content": "Hi"}], "stop": "STOP", "temperature": 1.7}
    )
    assert single["stop_sequences"] == ["STOP"]
    assert single["temperature"] == 1.0  # OpenAI allows up to 2, Anthropic up to 1


def test_images_data_url_and_http_url() -> None:
    out = to_anthropic(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                        {
                            "type": "image_url",
                            "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"},
                        },
                    ],
                }
            ]
        }
    )
    blocks = out["messages"][0]["content"]
    assert blocks[1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
    }
    assert blocks[2] == {
        "type": "image",
        "source": {"type": "url", "url": "https://example.com/cat.jpg"},
    }


def test_pdf_file_becomes_document_block() -> None:
    out = to_anthropic(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "file",
                            "file": {
                                "file_data": "data:application/pdf;base64,JVBERi0=",
                                "filename": "report.pdf",
                            },
                        },
                    ],
                }
            ]
        }
    )
    assert out["messages"][0]["content"][0] == {
        "type": "document",
        "title": "report.pdf",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
    }


@pytest.mark.parametrize(
    "part",
    [
        {"type": "input_audio", "input_audio": {"data": "AAA", "format": "wav"}},
        {"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}},
        {"type": "image_url", "image_url": {"url": "data:image/png,notbase64"}},
        {"type": "file", "file": {"file_id": "file-123"}},
    ],
)
def test_untranslatable_content_is_a_clear_bad_request(part: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        openai_to_anthropic_request({"messages": [{"role": "user", "content": [part]}]}, "m")


def test_tool_calls_and_results_round_trip_with_merged_tool_turn() -> None:
    out = to_anthropic(
        {
            "messages": [
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {
                    "role": "assistant",
                    "content": "Checking.",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        },
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": "not json"},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                {
                    "role": "tool",
                    "tool_call_id": "call_2",
                    "content": [{"type": "text", "text": "rainy"}],
                },
                {"role": "user", "content": "Thanks"},
            ],
            "tools": [WEATHER_TOOL],
        }
    )
    assistant, results = out["messages"][1], out["messages"][2]
    assert assistant == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {}},
        ],
    }
    # Both results and the following user text share one user turn, results first.
    assert results == {
        "role": "user",
        "content": [
            {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
            {
                "type": "tool_result",
                "tool_use_id": "call_2",
                "content": [{"type": "text", "text": "rainy"}],
            },
            {"type": "text", "text": "Thanks"},
        ],
    }
    assert len(out["messages"]) == 3
    assert out["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": WEATHER_TOOL["function"]["parameters"],
        }
    ]
    assert "tool_choice" not in out


def test_assistant_without_content_and_empty_text_are_skipped() -> None:
    out = to_anthropic(
        {
            "messages": [
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": ""},
                {"role": "user", "content": "b"},
            ]
        }
    )
    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    ]


def test_final_assistant_prefill_loses_trailing_whitespace() -> None:
    out = to_anthropic(
        {
            "messages": [
                {"role": "user", "content": "Count"},
                {"role": "assistant", "content": "1, 2, "},
            ]
        }
    )
    assert out["messages"][-1]["content"] == [{"type": "text", "text": "1, 2,"}]


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            None,
            {"type": "tool", "name": "get_weather"},
        ),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        (None, None, None),
    ],
)
def test_tool_choice_mapping(choice: Any, parallel: Any, expected: Any) -> None:
    req: dict[str, Any] = {"messages": [{"role": "user", "content": "Hi"}], "tools": [WEATHER_TOOL]}
    if choice is not None:
        req["tool_choice"] = choice
    if parallel is not None:
        req["parallel_tool_calls"] = parallel
    assert to_anthropic(req).get("tool_choice") == expected


def test_json_schema_response_format_becomes_output_config() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
    out = to_anthropic(
        {
            "messages": [{"role": "user", "content": "Hi"}],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": schema},
            },
        }
    )
    assert out["output_config"] == {"format": {"type": "json_schema", "schema": schema}}


# --- Anthropic response → OpenAI response ------------------------------------------------


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


# --- Anthropic request → OpenAI request (the /v1/messages route) --------------------------


def test_inbound_request_full_conversation() -> None:
    req = {
        "model": "my-endpoint",
        "max_tokens": 300,
        "temperature": 0.5,
        "top_p": 0.8,
        "top_k": 5,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "u-1"},
        "system": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}],
        "tools": [
            {
                "name": "get_weather",
                "description": "Weather",
                "input_schema": {"type": "object", "properties": {}},
            }
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look:"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                    },
                    {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "...", "signature": "s"},
                    {"type": "text", "text": "Checking."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"city": "Oslo"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [{"type": "text", "text": "cold"}],
                    },
                    {"type": "text", "text": "And now?"},
                ],
            },
        ],
    }
    out = anthropic_to_openai_request(req)
    assert out["model"] == "my-endpoint"
    assert out["max_tokens"] == 300
    assert (out["temperature"], out["top_p"], out["stop"], out["user"]) == (
        0.5,
        0.8,
        ["END"],
        "u-1",
    )
    assert "top_k" not in out and "stream" not in out
    assert out["tool_choice"] == "required"
    assert out["parallel_tool_calls"] is False
    assert out["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather",
                "parameters": {"type": "object", "properties": {}},
            },
        }
    ]
    system, user, assistant, tool, follow_up = out["messages"]
    assert system == {"role": "system", "content": "Be brief.\n\nBe kind."}
    assert user["content"][1] == {
        "type": "image_url",
        "image_url": {"url": f"data:image/png;base64,{PNG}"},
    }
    assert user["content"][2]["image_url"]["url"] == "https://x.test/a.png"
    assert assistant == {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [
            {
                "id": "toolu_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
            }
        ],
    }
    assert tool == {"role": "tool", "tool_call_id": "toolu_1", "content": "cold"}
    assert follow_up == {"role": "user", "content": "And now?"}


def test_inbound_streaming_asks_for_usage() -> None:
    out = anthropic_to_openai_request(
        {
            "model": "e",
            "max_tokens": 5,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        }
    )
    assert out["stream"] is True
    assert out["stream_options"] == {"include_usage": True}
    assert out["messages"] == [{"role": "user", "content": "hi"}]


def test_inbound_server_tools_are_refused() -> None:
    with pytest.raises(BadRequest):
        anthropic_to_openai_request(
            {
                "model": "e",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "hi"}],
                "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            }
        )


def test_round_trip_openai_anthropic_openai_keeps_the_conversation() -> None:
    original: dict[str, Any] = {
        "messages": [
            {"role": "system", "content": "Rules."},
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "cold"},
        ],
        "tools": [WEATHER_TOOL],
        "max_tokens": 100,
    }
    back = anthropic_to_openai_request(openai_to_anthropic_request(original, "m"))
    assert back["messages"] == [
        {"role": "system", "content": "Rules."},
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": None, "tool_calls": original["messages"][2]["tool_calls"]},
        {"role": "tool", "tool_call_id": "c1", "content": "cold"},
    ]
    assert back["tools"] == [WEATHER_TOOL]


# --- OpenAI response → Anthropic response ------------------------------------------------


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
        _events.validate_python(data)
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
