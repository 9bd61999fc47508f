"""Anthropic Messages request → OpenAI chat request (``/v1/messages`` on other providers)."""

from __future__ import annotations

from typing import Any

import pytest

from keyhouse.errors import BadRequest
from keyhouse.providers.anthropic_convert import openai_to_anthropic_request
from keyhouse.providers.anthropic_inbound import anthropic_to_openai_request
from tests.unit.anthropic_cases import PNG, WEATHER_TOOL


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
