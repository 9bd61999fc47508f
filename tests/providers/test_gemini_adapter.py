"""GeminiAdapter against the Gemini API fake (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette

from keyhouse.errors import (
    BadRequest,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from keyhouse.gateway.upstream import Upstream
from keyhouse.providers.base import Call, Credential
from keyhouse.providers.catalog import get
from keyhouse.providers.gemini import GeminiAdapter
from keyhouse.providers.registry import Adapters
from keyhouse.testing.fakes.gemini import create_app
from keyhouse.testing.fakes.server import Canned, Recorded, serve, serve_canned
from tests.providers.raw import http_post

pytestmark = pytest.mark.anyio

KEY = "AIzaSyD-test-key-0123456789abcdef"
WRONG = "AIzaSyD-wrong-key-9876543210fedcba"
_SPEC = get("gemini")
assert _SPEC is not None
SPEC = _SPEC
ADAPTER = GeminiAdapter(SPEC)
TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "description": "Look something up",
        "parameters": {
            "type": "object",
            "properties": {"q": {"type": "string"}},
            "required": ["q"],
            "additionalProperties": False,
        },
    },
}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Starlette, str]]:
    app = create_app(api_key=KEY)
    with serve(app) as running:
        yield app, running.url


@pytest.fixture
def app(server: tuple[Starlette, str]) -> Iterator[Starlette]:
    fake = server[0]
    fake.state.calls.clear()
    yield fake
    # Whatever the test did, the key never travelled in a URL.
    for call in fake.state.calls:
        assert KEY not in call.path and KEY not in call.query
        assert WRONG not in call.path and WRONG not in call.query


@pytest.fixture
async def client() -> Any:
    async with Upstream(allow_private=True) as c:
        yield c


def make_call(client: Upstream, url: str, model: str = "gemini-2.5-flash", key: str = KEY) -> Call:
    credential = Credential(
        key_id="key_1",
        provider="gemini",
        auth_method="api_key",
        secrets={"api_key": key},
        config={"base_url": url},
    )
    return Call(client=client, credential=credential, model=model)


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def collect(call: Call, request: dict[str, Any]) -> list[dict[str, Any]]:
    return [chunk async for chunk in ADAPTER.chat_stream(call, request)]


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


async def test_embeddings(app: Starlette, server: tuple[Starlette, str], client: Upstream) -> None:
    call = make_call(client, server[1], model="text-embedding-004")
    out = await ADAPTER.embeddings(call, {"input": ["alpha", "beta", "alpha"], "dimensions": 16})
    assert out["object"] == "list" and out["model"] == "text-embedding-004"
    assert [d["index"] for d in out["data"]] == [0, 1, 2]
    assert all(len(d["embedding"]) == 16 for d in out["data"])
    assert out["data"][0]["embedding"] == out["data"][2]["embedding"]
    assert out["data"][0]["embedding"] != out["data"][1]["embedding"]
    (seen,) = app.state.calls
    assert seen.path == "/v1beta/models/text-embedding-004:batchEmbedContents"
    assert seen.json["requests"][1] == {
        "model": "models/text-embedding-004",
        "content": {"parts": [{"text": "beta"}]},
        "outputDimensionality": 16,
    }

    encoded = await ADAPTER.embeddings(
        call, {"input": "alpha", "dimensions": 16, "encoding_format": "base64"}
    )
    raw = base64.b64decode(encoded["data"][0]["embedding"])
    assert list(struct.unpack("<16f", raw)) == pytest.approx(out["data"][0]["embedding"])


async def test_many_embeddings_are_split_into_batches_of_100(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    texts = [f"text {i}" for i in range(250)]
    out = await ADAPTER.embeddings(
        make_call(client, server[1], model="text-embedding-004"), {"input": texts, "dimensions": 4}
    )
    assert len(out["data"]) == 250
    assert sorted(len(c.json["requests"]) for c in app.state.calls) == [50, 100, 100]


async def test_a_failing_batch_raises_the_upstream_error_itself(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    # Three concurrent batches: the failure must not arrive wrapped in an ExceptionGroup.
    with pytest.raises(UpstreamUnavailable):
        await ADAPTER.embeddings(
            make_call(client, server[1], model="fail-503"), {"input": [f"t{i}" for i in range(250)]}
        )


async def test_streaming_several_candidates(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    chunks = await collect(make_call(client, server[1]), {**user("hi there"), "n": 2})
    for index in (0, 1):
        mine = [choice for c in chunks for choice in c["choices"] if choice["index"] == index]
        assert mine[0]["delta"]["role"] == "assistant"
        assert "".join(c["delta"].get("content") or "" for c in mine) == "echo: hi there"
        assert [c["finish_reason"] for c in mine if c["finish_reason"]] == ["stop"]


async def test_a_wrong_key_is_auth_failed_and_never_echoed(
    server: tuple[Starlette, str], client: Upstream, app: Starlette
) -> None:
    call = make_call(client, server[1], key=WRONG)
    with pytest.raises(UpstreamAuthFailed) as caught:
        await ADAPTER.chat(call, user("hi"))
    # Google answers a bad key with 400; it is still an auth failure.
    assert caught.value.upstream_status == 400
    assert WRONG not in str(caught.value) and WRONG not in caught.value.message
    assert "[REDACTED]" in caught.value.message  # the fake did echo it
    assert "API key not valid" in caught.value.message
    with pytest.raises(UpstreamAuthFailed) as streamed:
        await collect(call, user("hi"))
    assert WRONG not in streamed.value.message


async def test_the_fake_answers_like_google_without_a_key(
    server: tuple[Starlette, str], client: Upstream, app: Starlette
) -> None:
    response = await http_post(
        f"{server[1]}/v1beta/models/gemini-2.5-flash:generateContent", json=user("hi")
    )
    assert response.status_code == 403
    assert response.json()["error"]["status"] == "PERMISSION_DENIED"
    wrong = await http_post(
        f"{server[1]}/v1beta/models/gemini-2.5-flash:generateContent",
        json=user("hi"),
        headers={"x-goog-api-key": WRONG},
    )
    error = wrong.json()["error"]
    assert wrong.status_code == 400 and error["status"] == "INVALID_ARGUMENT"
    assert error["details"][0]["reason"] == "API_KEY_INVALID"


async def test_an_empty_key_is_refused_before_anything_is_sent(
    server: tuple[Starlette, str], client: Upstream, app: Starlette
) -> None:
    with pytest.raises(UpstreamAuthFailed):
        await ADAPTER.chat(make_call(client, server[1], key=""), user("hi"))
    assert app.state.calls == []


async def test_rate_limit_and_unavailable_map_to_retryable_errors(
    server: tuple[Starlette, str], client: Upstream, app: Starlette
) -> None:
    with pytest.raises(UpstreamRateLimited) as limited:
        await ADAPTER.chat(make_call(client, server[1], model="fail-429"), user("hi"))
    assert limited.value.retry_after == 0 and limited.value.upstream_status == 429
    with pytest.raises(UpstreamUnavailable) as down:
        await collect(make_call(client, server[1], model="fail-503"), user("hi"))
    assert "overloaded" in down.value.message
    with pytest.raises(UpstreamBadRequest):
        await ADAPTER.chat(make_call(client, server[1], model="fail-400"), user("hi"))


async def test_retry_info_in_the_body_is_used_without_a_header(client: Upstream) -> None:
    body = {
        "error": {
            "code": 429,
            "message": "quota",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}],
        }
    }
    with (
        serve_canned(lambda request: (429, json.dumps(body).encode(), {})) as server,
        pytest.raises(UpstreamRateLimited) as caught,
    ):
        await ADAPTER.chat(make_call(client, server.url), user("hi"))
    assert caught.value.retry_after == 37.0


async def test_an_error_event_inside_the_stream_is_raised_and_redacted(client: Upstream) -> None:
    events = (
        b'data: {"candidates": [{"content": {"parts": [{"text": "Hi"}], '
        b'"role": "model"}, "index": 0}]}\r\n\r\n'
        b'data: {"error": {"code": 503, "message": "overloaded '
        + KEY.encode()
        + b'", "status": "UNAVAILABLE"}}\r\n\r\n'
    )
    seen: list[dict[str, Any]] = []
    with (
        serve_canned(
            lambda request: (200, events, {"content-type": "text/event-stream"})
        ) as server,
        pytest.raises(UpstreamUnavailable) as caught,
    ):
        async for chunk in ADAPTER.chat_stream(make_call(client, server.url), user("hi")):
            seen.append(chunk)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in seen) == "Hi"
    assert KEY not in caught.value.message


async def test_redirects_are_not_followed(client: Upstream) -> None:
    followed: list[str] = []

    def redirect(request: Recorded) -> Canned:
        followed.append(request.path)
        return 307, b"", {"location": "/elsewhere"}

    with serve_canned(redirect) as server, pytest.raises(UpstreamError) as caught:
        await ADAPTER.chat(make_call(client, server.url), user("hi"))
    assert caught.value.upstream_status == 307
    assert len(followed) == 1  # the Location was never asked for


async def test_model_names_cannot_escape_the_path(
    server: tuple[Starlette, str], client: Upstream, app: Starlette
) -> None:
    for model in ("../files/x", "a/b", "m?key=1", "m#x"):
        with pytest.raises(BadRequest):
            await ADAPTER.chat(make_call(client, server[1], model=model), user("hi"))
    assert app.state.calls == []
    await ADAPTER.chat(make_call(client, server[1], model="models/gemini-2.5-flash"), user("x"))
    assert app.state.calls[0].path == "/v1beta/models/gemini-2.5-flash:generateContent"


async def test_verify_accepts_the_right_key_and_rejects_a_wrong_one(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    await ADAPTER.verify(make_call(client, server[1]))
    assert app.state.calls[0].method == "GET"
    assert app.state.calls[0].path == "/v1beta/models"
    with pytest.raises(UpstreamAuthFailed) as caught:
        await ADAPTER.verify(make_call(client, server[1], key=WRONG))
    assert WRONG not in caught.value.message


async def test_a_base_url_with_the_version_suffix_still_works(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    out = await ADAPTER.chat(make_call(client, f"{server[1]}/v1beta/"), user("hi"))
    assert out["choices"][0]["message"]["content"] == "echo: hi"
