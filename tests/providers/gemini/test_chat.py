"""GeminiAdapter chat, whole and streamed, against the Gemini API fake."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from starlette.applications import Starlette

from keyhouse.gateway.upstream import Upstream
from keyhouse.providers.gemini import GeminiAdapter
from keyhouse.providers.registry import Adapters
from tests.providers.gemini.conftest import ADAPTER, KEY, SPEC, TOOL, collect, make_call, user

pytestmark = pytest.mark.anyio


async def test_registry_serves_gemini_with_this_adapter() -> None:
    assert isinstance(Adapters().get(SPEC, "api_key"), GeminiAdapter)


async def test_chat_sends_the_key_in_the_header_and_maps_the_answer(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    out = await ADAPTER.chat(make_call(client, server[1]), user("hello world"))
    assert out["object"] == "chat.completion" and out["model"] == "gemini-2.5-flash"
    assert out["choices"][0]["message"]["content"] == "echo: hello world"
    assert out["choices"][0]["finish_reason"] == "stop"
    assert out["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    (seen,) = app.state.calls
    assert seen.method == "POST"
    assert seen.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert seen.headers["x-goog-api-key"] == KEY
    assert seen.query == ""
    assert seen.json == {"contents": [{"role": "user", "parts": [{"text": "hello world"}]}]}


async def test_system_prompt_and_multi_turn(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    out = await ADAPTER.chat(
        make_call(client, server[1]),
        {
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "first question"},
                {"role": "assistant", "content": "first answer"},
                {"role": "user", "content": "second question"},
            ]
        },
    )
    assert out["choices"][0]["message"]["content"] == "echo: second question"
    # 3 system words + 2 + 2 + 2 message words.
    assert out["usage"]["prompt_tokens"] == 9
    body = app.state.calls[0].json
    assert body["systemInstruction"] == {"parts": [{"text": "You are terse."}]}
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]


async def test_streaming_is_role_then_words_then_finish_then_usage(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    chunks = await collect(make_call(client, server[1]), user("one two three"))
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "echo: one two three"
    content_chunks = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    assert len(content_chunks) == 4  # a word at a time
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    (seen,) = app.state.calls
    assert seen.path == "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
    assert seen.query == "alt=sse"
    assert seen.headers["x-goog-api-key"] == KEY


async def test_tools_round_trip_keeps_the_thought_signature(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    # The fake, like Gemini 3, refuses a follow-up whose function call lost its signature.
    call = make_call(client, server[1], model="gemini-3-pro-preview")
    messages: list[dict[str, Any]] = [{"role": "user", "content": "weather in Paris"}]
    first = await ADAPTER.chat(call, {"messages": messages, "tools": [TOOL]})
    choice = first["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    (tool_call,) = choice["message"]["tool_calls"]
    assert tool_call["function"]["name"] == "lookup"
    assert json.loads(tool_call["function"]["arguments"]) == {"q": "weather in Paris"}
    declared = app.state.calls[0].json["tools"][0]["functionDeclarations"][0]
    assert "additionalProperties" not in declared["parameters"]

    messages += [
        choice["message"],
        {"role": "tool", "tool_call_id": tool_call["id"], "content": "sunny"},
    ]
    second = await ADAPTER.chat(call, {"messages": messages, "tools": [TOOL]})
    assert second["choices"][0]["message"]["content"] == "tool said: sunny"
    assert second["choices"][0]["finish_reason"] == "stop"
    sent = app.state.calls[1].json["contents"]
    assert sent[1]["parts"][0]["functionCall"]["name"] == "lookup"
    assert sent[2]["parts"] == [
        {"functionResponse": {"name": "lookup", "response": {"content": "sunny"}}}
    ]


async def test_streamed_tool_call(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    chunks = await collect(make_call(client, server[1]), {**user("find cats"), "tools": [TOOL]})
    calls = [
        tc
        for c in chunks
        if c["choices"]
        for tc in c["choices"][0]["delta"].get("tool_calls") or []
    ]
    assert len(calls) == 1 and calls[0]["index"] == 0
    assert calls[0]["function"]["name"] == "lookup"
    assert json.loads(calls[0]["function"]["arguments"]) == {"q": "find cats"}
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "tool_calls"


async def test_image_input_travels_inline(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n fake").decode()
    content = [
        {"type": "text", "text": "describe this"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
    ]
    out = await ADAPTER.chat(
        make_call(client, server[1]), {"messages": [{"role": "user", "content": content}]}
    )
    assert out["choices"][0]["message"]["content"] == "echo: describe this"
    parts = app.state.calls[0].json["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/png", "data": png}}


async def test_sampling_parameters_on_the_wire_and_length_finish(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    out = await ADAPTER.chat(
        make_call(client, server[1]),
        {
            **user("a b c d e f"),
            "max_tokens": 3,
            "temperature": 0.3,
            "top_p": 0.8,
            "stop": ["STOP!"],
        },
    )
    assert app.state.calls[0].json["generationConfig"] == {
        "maxOutputTokens": 3,
        "temperature": 0.3,
        "topP": 0.8,
        "stopSequences": ["STOP!"],
    }
    assert out["choices"][0]["message"]["content"] == "echo: a b"
    assert out["choices"][0]["finish_reason"] == "length"
    assert out["usage"]["completion_tokens"] == 3


async def test_stop_sequences_cut_the_answer(
    server: tuple[Starlette, str], client: Upstream, app: Starlette
) -> None:
    out = await ADAPTER.chat(make_call(client, server[1]), {**user("x y z"), "stop": " y"})
    assert out["choices"][0]["message"]["content"] == "echo: x"
    assert out["choices"][0]["finish_reason"] == "stop"


async def test_n_asks_for_several_candidates(
    server: tuple[Starlette, str], client: Upstream, app: Starlette
) -> None:
    out = await ADAPTER.chat(make_call(client, server[1]), {**user("hi"), "n": 2})
    assert [c["index"] for c in out["choices"]] == [0, 1]
    assert app.state.calls[0].json["generationConfig"]["candidateCount"] == 2


async def test_streaming_several_candidates(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    chunks = await collect(make_call(client, server[1]), {**user("hi there"), "n": 2})
    for index in (0, 1):
        mine = [choice for c in chunks for choice in c["choices"] if choice["index"] == index]
        assert mine[0]["delta"]["role"] == "assistant"
        assert "".join(c["delta"].get("content") or "" for c in mine) == "echo: hi there"
        assert [c["finish_reason"] for c in mine if c["finish_reason"]] == ["stop"]


async def test_a_base_url_with_the_version_suffix_still_works(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    out = await ADAPTER.chat(make_call(client, f"{server[1]}/v1beta/"), user("hi"))
    assert out["choices"][0]["message"]["content"] == "echo: hi"
