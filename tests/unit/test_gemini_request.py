"""The pure OpenAI chat body → Gemini ``generateContent`` body conversion, schemas included."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from keyhouse.errors import BadRequest
from keyhouse.providers.gemini_request import chat_request
from keyhouse.providers.gemini_schema import clean_schema

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "city": {"type": "string", "minLength": 1},
                "unit": {"type": ["string", "null"], "enum": ["c", "f"]},
                "when": {"type": "string", "format": "date-time"},
                "url": {"type": "string", "format": "uri"},
            },
            "required": ["city", "ghost"],
        },
    },
}


def test_system_and_developer_messages_become_system_instruction() -> None:
    body = chat_request(
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
                {"role": "user", "content": "Hi"},
            ]
        }
    )
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}, {"text": "Use French."}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Hi"}]}]


def test_multi_turn_roles_are_user_and_model() -> None:
    body = chat_request(
        {
            "messages": [
                {"role": "user", "content": "one"},
                {"role": "assistant", "content": "two"},
                {"role": "user", "content": "three"},
            ]
        }
    )
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["contents"][1]["parts"] == [{"text": "two"}]


def test_images_inline_from_data_urls_and_by_reference_from_https() -> None:
    png = base64.b64encode(b"\x89PNG fake").decode()
    body = chat_request(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                        {
                            "type": "image_url",
                            "image_url": {"url": "https://example.com/cat.webp?x=1"},
                        },
                    ],
                }
            ]
        }
    )
    parts = body["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": png}}
    assert parts[2] == {
        "fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/cat.webp?x=1"}
    }


def test_a_non_base64_data_url_or_a_file_url_is_refused() -> None:
    for url in ("data:text/plain,hello", "file:///etc/passwd"):
        with pytest.raises(BadRequest):
            chat_request(
                {
                    "messages": [
                        {
                            "role": "user",
                            "content": [{"type": "image_url", "image_url": {"url": url}}],
                        }
                    ]
                }
            )


def test_tool_calls_and_results_round_trip_with_names_recovered_from_ids() -> None:
    body = chat_request(
        {
            "messages": [
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_a__thought__c2ln",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        },
                        {
                            "id": "call_b",
                            "type": "function",
                            "function": {"name": "get_time", "arguments": '{"city": "Rome"}'},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "call_b", "content": "noon"},
                {
                    "role": "tool",
                    "tool_call_id": "call_a__thought__c2ln",
                    "content": '{"temp": 21}',
                },
            ]
        }
    )
    model_turn, results_turn = body["contents"][1], body["contents"][2]
    assert model_turn == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                "thoughtSignature": "c2ln",
            },
            {"functionCall": {"name": "get_time", "args": {"city": "Rome"}}},
        ],
    }
    # Both results of the parallel call share one user turn, each under its own name.
    assert results_turn == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_time", "response": {"content": "noon"}}},
            {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
        ],
    }


def test_a_tool_result_for_an_unknown_call_is_refused() -> None:
    with pytest.raises(BadRequest, match="tool_call_id"):
        chat_request({"messages": [{"role": "tool", "tool_call_id": "nope", "content": "x"}]})


def test_invalid_tool_arguments_are_refused() -> None:
    with pytest.raises(BadRequest, match="not valid JSON"):
        chat_request(
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {"id": "c", "function": {"name": "f", "arguments": "{oops"}}
                        ],
                    }
                ]
            }
        )


def test_tools_are_declared_with_a_schema_gemini_accepts() -> None:
    body = chat_request(
        {
            "messages": [{"role": "user", "content": "x"}],
            "tools": [WEATHER_TOOL],
            "tool_choice": "required",
        }
    )
    declaration = body["tools"][0]["functionDeclarations"][0]
    assert declaration["name"] == "get_weather"
    assert declaration["description"] == "Weather for a city"
    params = declaration["parameters"]
    assert "additionalProperties" not in params and "$schema" not in params
    assert params["type"] == "OBJECT"
    assert params["required"] == ["city"]  # "ghost" is not a property: Gemini would 400
    assert params["properties"]["city"] == {"type": "STRING", "minLength": 1}
    assert params["properties"]["unit"] == {"type": "STRING", "nullable": True, "enum": ["c", "f"]}
    assert params["properties"]["when"]["format"] == "date-time"
    assert "format" not in params["properties"]["url"]  # Gemini rejects "uri"
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}


def test_a_tool_without_parameters_sends_no_empty_object_schema() -> None:
    body = chat_request(
        {
            "messages": [{"role": "user", "content": "x"}],
            "tools": [
                {
                    "type": "function",
                    "function": {"name": "now", "parameters": {"type": "object", "properties": {}}},
                }
            ],
        }
    )
    assert body["tools"] == [{"functionDeclarations": [{"name": "now"}]}]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("none", {"mode": "NONE"}),
        ("auto", {"mode": "AUTO"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
    ],
)
def test_tool_choice_maps_to_function_calling_config(
    choice: object, expected: dict[str, Any]
) -> None:
    body = chat_request(
        {
            "messages": [{"role": "user", "content": "x"}],
            "tools": [WEATHER_TOOL],
            "tool_choice": choice,
        }
    )
    assert body["toolConfig"] == {"functionCallingConfig": expected}


def test_schema_refs_any_of_and_all_of_are_flattened() -> None:
    schema = {
        "type": "object",
        "$defs": {
            "Point": {
                "type": "object",
                "title": "Point",
                "properties": {"x": {"type": "number"}},
                "required": ["x"],
            }
        },
        "properties": {
            "p": {"$ref": "#/$defs/Point", "description": "where"},
            "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "merged": {"allOf": [{"$ref": "#/$defs/Point"}], "description": "m"},
            "fixed": {"const": "yes"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
    }
    out = clean_schema(schema)
    props = out["properties"]
    assert props["p"] == {
        "type": "OBJECT",
        "description": "where",
        "properties": {"x": {"type": "NUMBER"}},
        "required": ["x"],
    }
    assert props["maybe"] == {"type": "INTEGER", "nullable": True}
    assert props["either"] == {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]}
    assert props["merged"]["properties"] == {"x": {"type": "NUMBER"}}
    assert props["merged"]["description"] == "m"
    assert props["fixed"] == {"enum": ["yes"], "type": "STRING"}
    assert props["tags"] == {"type": "ARRAY", "items": {"type": "STRING"}}
    assert "$defs" not in json.dumps(out) and "title" not in json.dumps(out)


def test_a_recursive_ref_is_refused_not_looped() -> None:
    schema = {
        "$defs": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}}}},
        "$ref": "#/$defs/Node",
    }
    with pytest.raises(BadRequest):
        clean_schema(schema)


def test_sampling_parameters_go_to_generation_config() -> None:
    body = chat_request(
        {
            "messages": [{"role": "user", "content": "x"}],
            "max_tokens": 50,
            "temperature": 0.2,
            "top_p": 0.9,
            "stop": "END",
            "n": 2,
            "seed": 7,
            "presence_penalty": 0,
            "frequency_penalty": 0.5,
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "r",
                    "schema": {
                        "type": "object",
                        "properties": {"a": {"type": "string"}},
                        "additionalProperties": False,
                    },
                },
            },
        }
    )
    assert body["generationConfig"] == {
        "maxOutputTokens": 50,
        "temperature": 0.2,
        "topP": 0.9,
        "candidateCount": 2,
        "seed": 7,
        "frequencyPenalty": 0.5,
        "stopSequences": ["END"],
        "responseMimeType": "application/json",
        "responseSchema": {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}},
    }


def test_max_completion_tokens_wins_and_no_config_means_no_key() -> None:
    assert "generationConfig" not in chat_request({"messages": [{"role": "user", "content": "x"}]})
    body = chat_request(
        {
            "messages": [{"role": "user", "content": "x"}],
            "max_completion_tokens": 9,
            "max_tokens": 100,
        }
    )
    assert body["generationConfig"]["maxOutputTokens"] == 9
