"""OpenAI chat request → Anthropic Messages request (chat completions on Anthropic)."""

from __future__ import annotations

from typing import Any

import pytest

from keyhouse.errors import BadRequest
from keyhouse.providers.anthropic_convert import (
    DEFAULT_MAX_TOKENS,
    openai_to_anthropic_request,
)
from tests.unit.anthropic_cases import PNG, WEATHER_TOOL, to_anthropic


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
