"""Pure conversions for Amazon Bedrock, the event-stream decoder, and the fake's SigV4."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest

from keyhouse.errors import (
    BadRequest,
    Unsupported,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from keyhouse.gateway.send import open_stream
from keyhouse.gateway.upstream import Upstream
from keyhouse.providers import bedrock_convert as bc
from keyhouse.providers import bedrock_embeddings as be
from keyhouse.providers import bedrock_response as br
from keyhouse.providers.base import Call, Credential
from keyhouse.providers.bedrock_eventstream import iter_events
from keyhouse.testing.fakes.bedrock_frames import encode_frame, event_frame, exception_frame
from keyhouse.testing.fakes.bedrock_sigv4 import canonical_request, sigv4_signature
from keyhouse.testing.fakes.server import serve

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()


# --- chat request ----------------------------------------------------------------------


def test_system_and_developer_messages_become_the_system_prompt() -> None:
    body = bc.chat_request(
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
                {"role": "system", "content": "  "},
                {"role": "user", "content": "hi"},
            ]
        }
    )
    assert body["system"] == [{"text": "Be brief."}, {"text": "Use French."}]
    assert body["messages"] == [{"role": "user", "content": [{"text": "hi"}]}]


def test_consecutive_same_role_messages_are_merged() -> None:
    body = bc.chat_request(
        {
            "messages": [
                {"role": "user", "content": "one"},
                {"role": "user", "content": [{"type": "text", "text": "two"}]},
                {"role": "assistant", "content": "three"},
                {"role": "assistant", "content": None},  # empty: dropped, not an empty turn
                {"role": "user", "content": "four"},
            ]
        }
    )
    assert body["messages"] == [
        {"role": "user", "content": [{"text": "one"}, {"text": "two"}]},
        {"role": "assistant", "content": [{"text": "three"}]},
        {"role": "user", "content": [{"text": "four"}]},
    ]


def test_tool_calls_and_results_round_trip_into_blocks() -> None:
    body = bc.chat_request(
        {
            "messages": [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "get", "arguments": '{"city": "Oslo"}'},
                        },
                        {
                            "id": "c2",
                            "type": "function",
                            "function": {"name": "get", "arguments": ""},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "cold"},
                {"role": "tool", "tool_call_id": "c2", "content": ""},
                {"role": "user", "content": "thanks"},
            ],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "get",
                        "parameters": {
                            "type": "object",
                            "properties": {"city": {"type": "string"}},
                        },
                    },
                }
            ],
        }
    )
    assistant, results = body["messages"][1], body["messages"][2]
    assert assistant["content"] == [
        {"toolUse": {"toolUseId": "c1", "name": "get", "input": {"city": "Oslo"}}},
        {"toolUse": {"toolUseId": "c2", "name": "get", "input": {}}},
    ]
    # Tool results and the user's next words share one user turn, results first.
    assert results == {
        "role": "user",
        "content": [
            {"toolResult": {"toolUseId": "c1", "content": [{"text": "cold"}]}},
            {"toolResult": {"toolUseId": "c2", "content": [{"json": {}}]}},
            {"text": "thanks"},
        ],
    }
    assert body["toolConfig"]["tools"][0]["toolSpec"] == {
        "name": "get",
        "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}},
    }


def test_tool_arguments_must_be_a_json_object() -> None:
    with pytest.raises(BadRequest, match=r"tool_calls\[0\]"):
        bc.chat_request(
            {
                "messages": [
                    {
                        "role": "assistant",
                        "tool_calls": [
                            {"id": "c", "function": {"name": "f", "arguments": "[1, 2]"}}
                        ],
                    }
                ]
            }
        )


def test_history_with_tool_blocks_but_no_tools_still_gets_a_tool_config() -> None:
    body = bc.chat_request(
        {
            "messages": [
                {"role": "user", "content": "q"},
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "c", "function": {"name": "lookup", "arguments": "{}"}}],
                },
                {"role": "tool", "tool_call_id": "c", "content": "r"},
            ]
        }
    )
    assert [t["toolSpec"]["name"] for t in body["toolConfig"]["tools"]] == ["lookup"]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", {"auto": {}}),
        ("required", {"any": {}}),
        ({"type": "function", "function": {"name": "f"}}, {"tool": {"name": "f"}}),
        (None, None),
    ],
)
def test_tool_choice(choice: object, expected: object) -> None:
    tools = [{"type": "function", "function": {"name": "f", "description": "d"}}]
    body = bc.chat_request(
        {"messages": [{"role": "user", "content": "x"}], "tools": tools, "tool_choice": choice}
    )
    assert body["toolConfig"].get("toolChoice") == expected
    assert body["toolConfig"]["tools"][0]["toolSpec"]["description"] == "d"


def test_tool_choice_none_drops_the_tools() -> None:
    body = bc.chat_request(
        {
            "messages": [{"role": "user", "content": "x"}],
            "tool_choice": "none",
            "tools": [{"type": "function", "function": {"name": "f"}}],
        }
    )
    assert "toolConfig" not in body


def test_images_pass_inline_as_base64() -> None:
    body = bc.chat_request(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is it?"},
                        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/jpeg;base64,/9j/AA=="},
                        },
                        {"type": "image_url", "image_url": {"url": "s3://bucket/cat.webp"}},
                    ],
                }
            ]
        }
    )
    blocks = body["messages"][0]["content"]
    assert blocks[1] == {"image": {"format": "png", "source": {"bytes": PNG}}}
    assert blocks[2]["image"]["format"] == "jpeg"
    assert blocks[3] == {
        "image": {"format": "webp", "source": {"s3Location": {"uri": "s3://bucket/cat.webp"}}}
    }


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("https://example.com/cat.png", "inline data: URLs"),
        ("data:image/tiff;base64,AAAA", "png, jpeg, gif or webp"),
        ("data:image/png;base64,not base64!", "not valid base64"),
    ],
)
def test_bad_images_are_refused(url: str, error: str) -> None:
    with pytest.raises(BadRequest, match=error):
        bc.chat_request(
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
                ]
            }
        )


def test_a_pdf_file_becomes_a_document_with_a_clean_name() -> None:
    body = bc.chat_request(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "file",
                            "file": {
                                "file_data": "data:application/pdf;base64,JVBERi0=",
                                "filename": "Q3_report.v2.pdf",
                            },
                        }
                    ],
                }
            ]
        }
    )
    assert body["messages"][0]["content"][0] == {
        "document": {"format": "pdf", "name": "Q3 report v2", "source": {"bytes": "JVBERi0="}}
    }


def test_inference_config_and_structured_output() -> None:
    body = bc.chat_request(
        {
            "messages": [{"role": "user", "content": "x"}],
            "max_tokens": 10,
            "max_completion_tokens": 20,
            "temperature": 0.2,
            "top_p": 0.9,
            "stop": "END",
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": {"type": "object"}},
            },
        }
    )
    assert body["inferenceConfig"] == {
        "maxTokens": 20,
        "temperature": 0.2,
        "topP": 0.9,
        "stopSequences": ["END"],
    }
    fmt = body["outputConfig"]["textFormat"]
    assert fmt["structure"]["jsonSchema"] == {"schema": '{"type": "object"}', "name": "answer"}


def test_more_than_one_choice_is_unsupported() -> None:
    with pytest.raises(Unsupported):
        bc.chat_request({"messages": [{"role": "user", "content": "x"}], "n": 2})


# --- chat response ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("content_filtered", "content_filter"),
        ("guardrail_intervened", "content_filter"),
        ("malformed_model_output", "stop"),
    ],
)
def test_finish_reasons(stop: str, finish: str) -> None:
    assert br.finish_reason(stop) == finish


def test_converse_response_becomes_a_chat_completion() -> None:
    out = br.chat_response(
        {
            "output": {
                "message": {
                    "role": "assistant",
                    "content": [
                        {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "s"}}},
                        {"text": "Let me check."},
                        {"toolUse": {"toolUseId": "t1", "name": "get", "input": {"city": "Oslo"}}},
                    ],
                }
            },
            "stopReason": "tool_use",
            "usage": {
                "inputTokens": 10,
                "outputTokens": 5,
                "totalTokens": 45,
                "cacheReadInputTokens": 30,
            },
        },
        "m",
        "chatcmpl-1",
        123,
    )
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Let me check."
    assert choice["message"]["reasoning_content"] == "hmm"
    assert choice["message"]["tool_calls"] == [
        {
            "id": "t1",
            "type": "function",
            "function": {"name": "get", "arguments": '{"city": "Oslo"}'},
        }
    ]
    assert out["usage"] == {
        "prompt_tokens": 40,
        "completion_tokens": 5,
        "total_tokens": 45,
        "prompt_tokens_details": {"cached_tokens": 30},
    }
    assert (out["id"], out["created"], out["model"]) == ("chatcmpl-1", 123, "m")


def test_stream_events_become_chunks() -> None:
    conv = br.ChatStreamConverter("m", "id1", 1)
    events: list[tuple[str, dict[str, Any]]] = [
        ("messageStart", {"role": "assistant", "p": "pad"}),
        ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hi"}}),
        ("contentBlockStop", {"contentBlockIndex": 0}),
        (
            "contentBlockStart",
            {"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "t1", "name": "get"}}},
        ),
        ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": '{"a"'}}}),
        ("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"toolUse": {"input": ": 1}"}}}),
        ("contentBlockStop", {"contentBlockIndex": 1}),
        ("messageStop", {"stopReason": "tool_use"}),
        (
            "metadata",
            {
                "usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7},
                "metrics": {"latencyMs": 1},
            },
        ),
    ]
    chunks = [c for e, p in events for c in conv.feed(e, p)]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert deltas[1] == {"content": "Hi"}
    assert deltas[2]["tool_calls"][0] == {
        "index": 0,
        "id": "t1",
        "type": "function",
        "function": {"name": "get", "arguments": ""},
    }
    args = "".join(d["tool_calls"][0]["function"]["arguments"] for d in deltas[3:5])
    assert json.loads(args) == {"a": 1}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    assert all(c["object"] == "chat.completion.chunk" and c["id"] == "id1" for c in chunks)


# --- embeddings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("amazon.titan-embed-text-v2:0", "titan"),
        ("amazon.titan-embed-text-v1", "titan"),
        ("cohere.embed-english-v3", "cohere"),
        ("us.cohere.embed-v4:0", "cohere"),
    ],
)
def test_embedding_family(model: str, family: str) -> None:
    assert be.embedding_family(model) == family


def test_unknown_embedding_model_is_unsupported() -> None:
    with pytest.raises(Unsupported):
        be.embedding_family("anthropic.claude-3-haiku-20240307-v1:0")


def test_embedding_inputs_must_be_text() -> None:
    assert be.embedding_inputs({"input": "a"}) == ["a"]
    with pytest.raises(BadRequest):
        be.embedding_inputs({"input": [[1, 2, 3]]})


def test_titan_bodies_follow_the_model_version() -> None:
    assert be.titan_embedding_body("a", {"dimensions": 256}, "amazon.titan-embed-text-v2:0") == {
        "inputText": "a",
        "dimensions": 256,
    }
    assert be.titan_embedding_body("a", {"dimensions": 384}, "amazon.titan-embed-image-v1") == {
        "inputText": "a",
        "embeddingConfig": {"outputEmbeddingLength": 384},
    }
    with pytest.raises(BadRequest):
        be.titan_embedding_body("a", {"dimensions": 256}, "amazon.titan-embed-text-v1")


def test_cohere_bodies_are_batched_by_96() -> None:
    texts = [f"t{i}" for i in range(200)]
    bodies = be.cohere_embedding_bodies(texts, {}, "cohere.embed-english-v3")
    assert [len(b["texts"]) for b in bodies] == [96, 96, 8]
    assert all(b["input_type"] == "search_document" for b in bodies)
    v4 = be.cohere_embedding_bodies(
        ["x"], {"dimensions": 512, "input_type": "search_query"}, "cohere.embed-v4:0"
    )
    assert v4 == [{"texts": ["x"], "input_type": "search_query", "output_dimension": 512}]


def test_embedding_responses_are_read_in_both_shapes() -> None:
    assert be.titan_embedding({"embedding": [0.5], "inputTextTokenCount": 2}) == ([0.5], 2)
    assert be.cohere_embeddings({"embeddings": [[1.0]]}) == [[1.0]]
    assert be.cohere_embeddings({"embeddings": {"float": [[2.0]]}}) == [[2.0]]


def test_base64_embeddings_are_little_endian_float32() -> None:
    out = be.embeddings_response([[0.5, -1.0]], "m", 3, "base64")
    raw = base64.b64decode(out["data"][0]["embedding"])
    assert struct.unpack("<2f", raw) == (0.5, -1.0)
    assert out["usage"] == {"prompt_tokens": 3, "total_tokens": 3}


# --- event stream ----------------------------------------------------------------------

CRED = Credential(
    "k",
    "bedrock",
    "access_keys",
    {"aws_access_key_id": "AKIDSECRETID", "aws_secret_access_key": "sssssss"},
    {"region": "us-east-1"},
)


async def _events(data: bytes, piece: int) -> list[tuple[str, dict[str, object]]]:
    async def body() -> AsyncIterator[bytes]:
        for i in range(0, len(data), piece):
            yield data[i : i + piece]

    # A real answer streamed in ``piece``-byte writes, through the real send path.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        async for part in body():
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    with serve(app) as server:
        async with Upstream(allow_private=True) as client:
            call = Call(client, CRED, "m")
            stream = await open_stream(call, "GET", server.url)
            return [e async for e in iter_events(call, stream)]


@pytest.mark.anyio
@pytest.mark.parametrize("piece", [1, 7, 10_000])
async def test_event_stream_decodes_however_the_bytes_are_split(piece: int) -> None:
    data = event_frame("messageStart", {"role": "assistant"}) + event_frame(
        "contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "hi"}}
    )
    events = await _events(data, piece)
    assert [e for e, _ in events] == ["messageStart", "contentBlockDelta"]
    assert events[1][1]["delta"] == {"text": "hi"}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("throttlingException", UpstreamRateLimited),
        ("serviceUnavailableException", UpstreamUnavailable),
        ("modelStreamErrorException", UpstreamUnavailable),
    ],
)
async def test_exception_frames_become_upstream_errors(name: str, cls: type[UpstreamError]) -> None:
    data = event_frame("messageStart", {"role": "assistant"}) + exception_frame(
        name, "slow down, AKIDSECRETID"
    )
    with pytest.raises(cls) as info:
        await _events(data, 64)
    assert name in info.value.message
    assert "AKIDSECRETID" not in info.value.message and "[REDACTED]" in info.value.message


@pytest.mark.anyio
async def test_error_frames_and_corruption_are_errors() -> None:
    error = encode_frame(
        {":message-type": "error", ":error-code": "InternalFailure", ":error-message": "boom"}, b""
    )
    with pytest.raises(UpstreamError, match="boom"):
        await _events(error, 64)
    frame = bytearray(event_frame("messageStart", {"role": "assistant"}))
    frame[-6] ^= 0xFF  # flip a payload byte: the message CRC no longer matches
    with pytest.raises(UpstreamError, match="malformed event stream"):
        await _events(bytes(frame), 64)


# --- the fake's SigV4, against AWS's published test vectors ----------------------------


@pytest.mark.parametrize(
    ("method", "signature"),
    [
        ("GET", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
        ("POST", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"),
    ],
)
def test_fake_sigv4_matches_aws_test_vectors(method: str, signature: str) -> None:
    headers = [("host", "example.amazonaws.com"), ("x-amz-date", "20150830T123600Z")]
    canonical = canonical_request(method, "/", "", headers, ["host", "x-amz-date"], b"")
    got, _ = sigv4_signature(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "20150830T123600Z",
        "20150830/us-east-1/service/aws4_request",
        canonical,
    )
    assert got == signature


def test_fake_escapes_the_path_twice() -> None:
    canonical = canonical_request(
        "POST", "/model/a%3Ab/converse", "", [("host", "h")], ["host"], b""
    )
    assert canonical.split("\n")[1] == "/model/a%253Ab/converse"
