"""The pure Gemini answer → OpenAI ChatCompletion (and chunk) conversions."""

from __future__ import annotations

import json
from typing import Any

import pytest

from keyhouse.providers.gemini_answer import chat_response, split_tool_call_id, usage
from keyhouse.providers.gemini_stream import StreamConverter


def _answer(parts: list[dict[str, Any]], finish: str = "STOP", **extra: object) -> dict[str, Any]:
    return {
        "candidates": [
            {"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}
        ],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 4, "totalTokenCount": 14},
        "responseId": "r1",
        **extra,
    }


def test_text_answer_maps_to_a_chat_completion() -> None:
    out = chat_response(_answer([{"text": "Hello "}, {"text": "world"}]), "gemini-x")
    assert out["id"] == "chatcmpl-r1"
    assert out["object"] == "chat.completion" and out["model"] == "gemini-x"
    assert out["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Hello world",
        "refusal": None,
    }
    assert out["choices"][0]["finish_reason"] == "stop"
    assert out["usage"] == {"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14}


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("OTHER", "stop"),
        ("MALFORMED_FUNCTION_CALL", "stop"),
    ],
)
def test_finish_reasons(reason: str, expected: str) -> None:
    out = chat_response(_answer([{"text": "x"}], reason), "m")
    assert out["choices"][0]["finish_reason"] == expected


def test_function_calls_become_tool_calls_with_the_signature_in_the_id() -> None:
    out = chat_response(
        _answer(
            [
                {"text": "thinking...", "thought": True},
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "c2ln",
                },
                {"functionCall": {"name": "get_time", "args": {}}},
            ]
        ),
        "m",
    )
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None  # the thought summary is not content
    first, second = choice["message"]["tool_calls"]
    assert first["type"] == "function" and first["function"]["name"] == "get_weather"
    assert json.loads(first["function"]["arguments"]) == {"city": "Paris"}
    assert split_tool_call_id(first["id"])[1] == "c2ln"
    assert split_tool_call_id(second["id"])[1] is None
    assert first["id"] != second["id"]


def test_thinking_and_cached_tokens_are_reported_like_openai() -> None:
    meta = {
        "promptTokenCount": 100,
        "candidatesTokenCount": 20,
        "thoughtsTokenCount": 30,
        "cachedContentTokenCount": 64,
        "totalTokenCount": 150,
    }
    assert usage(meta) == {
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "total_tokens": 150,
        "prompt_tokens_details": {"cached_tokens": 64},
        "completion_tokens_details": {"reasoning_tokens": 30},
    }


def test_a_blocked_prompt_is_a_content_filter_finish() -> None:
    out = chat_response(
        {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3}}, "m"
    )
    assert out["choices"][0]["finish_reason"] == "content_filter"
    assert out["usage"]["prompt_tokens"] == 3


def test_stream_converter_emits_role_deltas_finish_and_usage() -> None:
    converter = StreamConverter("m")
    chunks = []
    for event in (
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}, "index": 0}],
            "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5},
        },
        {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": "lo"}]},
                    "finishReason": "MAX_TOKENS",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 5,
                "candidatesTokenCount": 2,
                "totalTokenCount": 7,
            },
        },
    ):
        chunks.extend(converter.feed(event))
    chunks.extend(converter.finish())
    assert {c["id"] for c in chunks} == {converter.id}
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Hello"
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "length" and finishes.count("length") == 1
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}


def test_stream_converter_indexes_tool_calls_and_finishes_with_tool_calls() -> None:
    converter = StreamConverter("m")
    chunks = converter.feed(
        {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [
                            {"functionCall": {"name": "a", "args": {"x": 1}}},
                            {"functionCall": {"name": "b", "args": {}}},
                        ],
                    },
                    "finishReason": "STOP",
                    "index": 0,
                }
            ]
        }
    )
    calls = [tc for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls", [])]
    assert [(tc["index"], tc["function"]["name"]) for tc in calls] == [(0, "a"), (1, "b")]
    assert json.loads(calls[0]["function"]["arguments"]) == {"x": 1}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert converter.finish() == []  # no usage reported, no usage chunk
