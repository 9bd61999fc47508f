"""The Bedrock adapter against the Bedrock fake, a real HTTP server that verifies SigV4."""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import struct
from collections.abc import AsyncIterator, Iterator
from typing import Any

import botocore.auth
import pytest
from botocore.credentials import Credentials

from keyhouse.errors import (
    BadRequest,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from keyhouse.gateway.upstream import Timeouts, Upstream
from keyhouse.providers import bedrock as bedrock_module
from keyhouse.providers.base import Call, Credential
from keyhouse.providers.bedrock import BedrockAdapter
from keyhouse.providers.catalog import get
from keyhouse.testing.fakes.bedrock import create_app
from keyhouse.testing.fakes.server import ServerThread, serve
from tests.providers.raw import http_post, http_send

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN"
API_KEY = "ABSKQmVkcm9ja0FQSUtleS1leGFtcGxl"
ARN = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-v1:0"
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
]


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with serve(create_app(KEY_ID, SECRET, api_key=API_KEY)) as srv:
        yield srv


@pytest.fixture(scope="module")
def token_server() -> Iterator[ServerThread]:
    with serve(create_app(KEY_ID, SECRET, session_token=TOKEN)) as srv:
        yield srv


@pytest.fixture
def calls(server: ServerThread) -> list[Any]:
    recorded: list[Any] = server.app.state.calls
    recorded.clear()
    return recorded


@pytest.fixture
async def client() -> AsyncIterator[Upstream]:
    async with Upstream(allow_private=True) as c:
        yield c


def keys(
    srv: ServerThread,
    secret: str = SECRET,
    key_id: str = KEY_ID,
    token: str | None = None,
    version: int = 1,
) -> Credential:
    secrets = {"aws_access_key_id": key_id, "aws_secret_access_key": secret}
    if token is not None:
        secrets["aws_session_token"] = token
    return Credential(
        "key-1",
        "bedrock",
        "access_keys",
        secrets,
        {"region": "us-east-1", "base_url": srv.url},
        version,
    )


def bearer(srv: ServerThread, api_key: str = API_KEY) -> Credential:
    return Credential(
        "key-2",
        "bedrock",
        "api_key",
        {"api_key": api_key},
        {"region": "us-east-1", "base_url": srv.url},
    )


def adapter() -> BedrockAdapter:
    spec = get("bedrock")
    assert spec is not None
    return BedrockAdapter(spec)


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def collect(call: Call, request: dict[str, Any]) -> list[dict[str, Any]]:
    return [c async for c in adapter().chat_stream(call, request)]


# --- chat ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_chat_is_signed_and_answered(
    server: ServerThread, calls: list[Any], client: Upstream
) -> None:
    out = await adapter().chat(Call(client, keys(server), MODEL), user("hello there"))
    choice = out["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "echo: hello there"}
    assert choice["finish_reason"] == "stop"
    assert out["usage"] == {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    assert out["object"] == "chat.completion" and out["model"] == MODEL
    assert out["id"].startswith("chatcmpl-")
    seen = calls[-1]
    assert seen.path == "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
    assert seen.headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={KEY_ID}/")
    assert "x-amz-security-token" not in seen.headers


@pytest.mark.anyio
async def test_an_arn_model_id_is_one_escaped_path_segment(
    server: ServerThread, calls: list[Any], client: Upstream
) -> None:
    out = await adapter().chat(Call(client, keys(server), ARN), user("hi"))
    assert out["choices"][0]["message"]["content"] == "echo: hi"
    assert calls[-1].path == (
        "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3A"
        "inference-profile%2Fus.anthropic.claude-v1%3A0/converse"
    )


@pytest.mark.anyio
async def test_streaming_decodes_the_event_stream(
    server: ServerThread, calls: list[Any], client: Upstream
) -> None:
    chunks = await collect(Call(client, keys(server), MODEL), user("one two three"))
    assert calls[-1].path.endswith("/converse-stream")
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "echo: one two three"
    assert len([c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("content")]) == 4
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


@pytest.mark.anyio
async def test_system_prompt_and_multi_turn_merge_reach_the_wire(
    server: ServerThread, calls: list[Any], client: Upstream
) -> None:
    request = {
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "second"},
            {"role": "user", "content": "third"},  # merged: the fake refuses non-alternation
        ]
    }
    out = await adapter().chat(Call(client, keys(server), MODEL), request)
    assert out["choices"][0]["message"]["content"] == "echo: second third"
    sent = calls[-1].json
    assert sent["system"] == [{"text": "You are terse."}]
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert out["usage"]["prompt_tokens"] == 7  # system words count too


@pytest.mark.anyio
async def test_tools_round_trip(server: ServerThread, calls: list[Any], client: Upstream) -> None:
    call = Call(client, keys(server), MODEL)
    first = await adapter().chat(call, {**user("cats"), "tools": TOOLS, "tool_choice": "auto"})
    choice = first["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    tool_call = choice["message"]["tool_calls"][0]
    assert tool_call["function"]["name"] == "search"
    assert json.loads(tool_call["function"]["arguments"]) == {"q": "cats"}
    assert calls[-1].json["toolConfig"]["toolChoice"] == {"auto": {}}

    follow_up = {
        "tools": TOOLS,
        "messages": [
            {"role": "user", "content": "cats"},
            {"role": "assistant", "content": None, "tool_calls": [tool_call]},
            {"role": "tool", "tool_call_id": tool_call["id"], "content": "cats are great"},
        ],
    }
    second = await adapter().chat(call, follow_up)
    assert second["choices"][0]["message"]["content"] == "tool said: cats are great"
    assert second["choices"][0]["finish_reason"] == "stop"


@pytest.mark.anyio
async def test_streamed_tool_call_assembles(server: ServerThread, client: Upstream) -> None:
    chunks = await collect(Call(client, keys(server), MODEL), {**user("dogs"), "tools": TOOLS})
    calls_ = [
        tc
        for c in chunks
        if c["choices"]
        for tc in c["choices"][0]["delta"].get("tool_calls") or []
    ]
    assert calls_[0]["function"]["name"] == "search" and calls_[0]["id"]
    args = "".join(tc["function"]["arguments"] for tc in calls_)
    assert json.loads(args) == {"q": "dogs"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.anyio
async def test_image_input_is_sent_inline(
    server: ServerThread, calls: list[Any], client: Upstream
) -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n0000").decode()
    request = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "describe"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                ],
            }
        ]
    }
    out = await adapter().chat(Call(client, keys(server), MODEL), request)
    assert out["choices"][0]["message"]["content"] == "echo: describe"
    image = calls[-1].json["messages"][0]["content"][1]["image"]
    assert image == {"format": "png", "source": {"bytes": png}}


@pytest.mark.anyio
async def test_sampling_params_on_the_wire_and_length_finish(
    server: ServerThread, calls: list[Any], client: Upstream
) -> None:
    request = {
        **user("a b c d e"),
        "max_tokens": 3,
        "temperature": 0.3,
        "top_p": 0.8,
        "stop": ["zzz"],
    }
    out = await adapter().chat(Call(client, keys(server), MODEL), request)
    assert calls[-1].json["inferenceConfig"] == {
        "maxTokens": 3,
        "temperature": 0.3,
        "topP": 0.8,
        "stopSequences": ["zzz"],
    }
    assert out["choices"][0]["message"]["content"] == "echo: a b"
    assert out["choices"][0]["finish_reason"] == "length"


@pytest.mark.anyio
async def test_stop_sequence_maps_to_stop(server: ServerThread, client: Upstream) -> None:
    out = await adapter().chat(
        Call(client, keys(server), MODEL), {**user("x STOP y"), "stop": "STOP"}
    )
    assert out["choices"][0]["message"]["content"] == "echo: x "
    assert out["choices"][0]["finish_reason"] == "stop"


# --- embeddings ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_titan_embeddings_one_call_per_input(
    server: ServerThread, calls: list[Any], client: Upstream
) -> None:
    call = Call(client, keys(server), "amazon.titan-embed-text-v2:0")
    out = await adapter().embeddings(call, {"input": ["a b", "c", "d e f"], "dimensions": 256})
    assert [d["index"] for d in out["data"]] == [0, 1, 2]
    assert all(len(d["embedding"]) == 256 for d in out["data"])
    assert out["usage"] == {"prompt_tokens": 6, "total_tokens": 6}
    assert sorted(c.json["inputText"] for c in calls) == ["a b", "c", "d e f"]
    assert all(c.path == "/model/amazon.titan-embed-text-v2%3A0/invoke" for c in calls)
    # The same text embeds the same, in order, whatever order the calls finished in.
    again = await adapter().embeddings(call, {"input": "d e f", "dimensions": 256})
    assert again["data"][0]["embedding"] == out["data"][2]["embedding"]


@pytest.mark.anyio
async def test_cohere_embeddings_batch_and_base64(
    server: ServerThread, calls: list[Any], client: Upstream
) -> None:
    call = Call(client, keys(server), "cohere.embed-english-v3")
    floats = await adapter().embeddings(call, {"input": ["x y", "z"]})
    assert len(calls) == 1 and calls[0].json == {
        "texts": ["x y", "z"],
        "input_type": "search_document",
    }
    assert len(floats["data"]) == 2 and len(floats["data"][0]["embedding"]) == 1024
    assert floats["usage"]["prompt_tokens"] == 3
    packed = await adapter().embeddings(call, {"input": ["x y", "z"], "encoding_format": "base64"})
    raw = base64.b64decode(packed["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert decoded == pytest.approx(floats["data"][0]["embedding"], abs=1e-6)


# --- authentication --------------------------------------------------------------------


@pytest.mark.anyio
async def test_a_wrong_secret_fails_the_signature(server: ServerThread, client: Upstream) -> None:
    with pytest.raises(UpstreamAuthFailed) as info:
        await adapter().chat(
            Call(client, keys(server, secret="not-the-secret-key"), MODEL), user("hi")
        )
    message = info.value.message
    assert "does not match the signature" in message
    # The hostile fake echoed the key id; the adapter scrubbed it.
    assert "[REDACTED]" in message
    assert KEY_ID not in message and "not-the-secret-key" not in message
    assert info.value.upstream_status == 403


@pytest.mark.anyio
async def test_an_unknown_access_key_is_rejected(server: ServerThread, client: Upstream) -> None:
    with pytest.raises(
        UpstreamAuthFailed, match="security token included in the request is invalid"
    ) as info:
        await adapter().chat(
            Call(client, keys(server, key_id="AKIAUNKNOWNKEY0000"), MODEL), user("hi")
        )
    assert "AKIAUNKNOWNKEY0000" not in info.value.message


@pytest.mark.anyio
async def test_session_token_is_sent_and_required(
    token_server: ServerThread, client: Upstream
) -> None:
    out = await adapter().chat(Call(client, keys(token_server, token=TOKEN), MODEL), user("hi"))
    assert out["choices"][0]["message"]["content"] == "echo: hi"
    seen = token_server.app.state.calls[-1]
    assert seen.headers["x-amz-security-token"] == TOKEN
    assert "x-amz-security-token" in seen.headers["authorization"]  # signed, not just sent
    for token in (None, "IQoJWRONGSESSIONTOKEN"):
        with pytest.raises(UpstreamAuthFailed) as info:
            await adapter().chat(Call(client, keys(token_server, token=token), MODEL), user("x"))
        assert KEY_ID not in info.value.message


@pytest.mark.anyio
async def test_a_long_session_token_echoed_by_aws_is_redacted_even_when_cut(
    client: Upstream,
) -> None:
    # AWS quotes the canonical request (session token included) when a signature does not
    # match; real STS tokens are long enough that the message truncation cuts them.
    long_token = "IQoJb3JpZ2luX2VjEJr" + "x7Qz" * 200
    with (
        serve(create_app(KEY_ID, SECRET, session_token=long_token)) as srv,
        pytest.raises(UpstreamAuthFailed) as info,
    ):
        await adapter().chat(
            Call(client, keys(srv, secret="wrong-secret-key", token=long_token), MODEL), user("hi")
        )
    message = info.value.message
    assert "x-amz-security-token:[REDACTED]" in message
    assert "IQoJ" not in message and "wrong-secret-key" not in message


@pytest.mark.anyio
async def test_a_stale_signature_is_rejected(
    server: ServerThread, client: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    past = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=10)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: past)
    with pytest.raises(UpstreamAuthFailed, match="Signature expired"):
        await adapter().chat(Call(client, keys(server), MODEL), user("hi"))


@pytest.mark.anyio
async def test_api_key_is_a_bearer_token(
    server: ServerThread, calls: list[Any], client: Upstream
) -> None:
    out = await adapter().chat(Call(client, bearer(server), MODEL), user("hi"))
    assert out["choices"][0]["message"]["content"] == "echo: hi"
    assert calls[-1].headers["authorization"] == f"Bearer {API_KEY}"
    assert "x-amz-date" not in calls[-1].headers
    with pytest.raises(UpstreamAuthFailed, match="API Key is valid") as info:
        await adapter().chat(Call(client, bearer(server, "ABSKwrongwrongwrong"), MODEL), user("hi"))
    assert "ABSKwrongwrongwrong" not in info.value.message


@pytest.mark.anyio
async def test_unsigned_requests_are_refused_by_the_fake(
    server: ServerThread, client: Upstream
) -> None:
    response = await http_post(f"{server.url}/model/m/converse", json=user("hi"))
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"].startswith("MissingAuthenticationTokenException")
    assert response.json() == {"message": "Missing Authentication Token"}


@pytest.mark.anyio
async def test_a_body_changed_after_signing_is_refused(
    server: ServerThread, client: Upstream
) -> None:
    call = Call(client, keys(server), MODEL)
    body = {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}
    signed = adapter()._request(call, "POST", f"{server.url}/model/m/converse", body)
    original = signed.content
    assert original is not None
    tampered = original.replace(b"hi", b"yo")
    assert len(tampered) == len(original)
    response = await http_send("POST", signed.url, headers=signed.headers, content=tampered)
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"].startswith("InvalidSignatureException")
    ok = await http_send("POST", signed.url, headers=signed.headers, content=original)
    assert ok.status_code == 200


@pytest.mark.anyio
async def test_a_malformed_body_is_a_validation_error(
    server: ServerThread, client: Upstream
) -> None:
    call = Call(client, keys(server), MODEL)
    request = adapter()._request(
        call,
        "POST",
        f"{server.url}/model/m/converse",
        {"messages": [{"role": "user", "content": "not blocks"}]},
    )
    response = await http_send(
        request.method, request.url, headers=request.headers, content=request.content
    )
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"].startswith("ValidationException")


@pytest.mark.anyio
async def test_credentials_are_built_once_per_key_version(
    server: ServerThread, client: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    real = Credentials

    def counting(*args: Any) -> Any:
        built.append(args[0])
        return real(*args)

    monkeypatch.setattr(bedrock_module, "Credentials", counting)
    a = adapter()
    for _ in range(3):
        await a.chat(Call(client, keys(server), MODEL), user("hi"))
    assert len(built) == 1
    await a.chat(Call(client, keys(server, version=2), MODEL), user("hi"))
    assert len(built) == 2


def test_botocore_signer_debug_logs_are_silenced() -> None:
    # Its DEBUG lines print the canonical request, session token included.
    assert not logging.getLogger("botocore.auth").isEnabledFor(logging.DEBUG)


# --- upstream errors -------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("model", "cls"),
    [
        ("fail-429", UpstreamRateLimited),
        ("fail-503", UpstreamUnavailable),
        ("fail-400", UpstreamBadRequest),
    ],
)
async def test_error_statuses_map(
    server: ServerThread, client: Upstream, model: str, cls: type[UpstreamError]
) -> None:
    with pytest.raises(cls) as info:
        await adapter().chat(Call(client, keys(server), model), user("hi"))
    if model == "fail-429":
        assert info.value.retry_after == 0
    with pytest.raises(cls):  # streaming fails before the first chunk, so fallback works
        await adapter().chat_stream(Call(client, keys(server), model), user("hi")).__anext__()


@pytest.mark.anyio
async def test_an_exception_inside_the_stream_is_raised(
    server: ServerThread, client: Upstream
) -> None:
    seen: list[dict[str, Any]] = []
    with pytest.raises(UpstreamRateLimited, match="throttlingException"):
        async for chunk in adapter().chat_stream(
            Call(client, keys(server), "fail-midstream"), user("hi")
        ):
            seen.append(chunk)
    assert seen[-1]["choices"][0]["delta"] == {"content": "echo:"}


# --- verify ----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_verify(server: ServerThread, calls: list[Any], client: Upstream) -> None:
    await adapter().verify(Call(client, keys(server), ""))
    assert (calls[-1].method, calls[-1].path) == ("GET", "/foundation-models")
    assert calls[-1].headers["authorization"].startswith("AWS4-HMAC-SHA256")
    await adapter().verify(Call(client, bearer(server), ""))
    with pytest.raises(UpstreamAuthFailed):
        await adapter().verify(Call(client, keys(server, secret="wrong-secret-key"), ""))
    with pytest.raises(UpstreamAuthFailed):
        await adapter().verify(Call(client, bearer(server, "ABSKnotthekey"), ""))


def test_default_endpoints_follow_the_region() -> None:
    cred = Credential("k", "bedrock", "access_keys", {}, {"region": "eu-west-3"})
    a = adapter()
    assert a._runtime_base(cred) == "https://bedrock-runtime.eu-west-3.amazonaws.com"
    assert a._control_base(cred) == "https://bedrock.eu-west-3.amazonaws.com"
    gov = Credential("k", "bedrock", "api_key", {}, {"region": "us-gov-west-1"})
    assert a._runtime_base(gov) == "https://bedrock-runtime.us-gov-west-1.amazonaws.com"


@pytest.mark.parametrize("region", ["", "evil.com#", "us-east-1.evil.com/", "US-EAST-1"])
def test_a_region_that_is_not_a_region_is_refused(region: str) -> None:
    # It becomes part of the hostname that receives the signed request or the API key.
    cred = Credential("k", "bedrock", "api_key", {"api_key": "k" * 8}, {"region": region})
    with pytest.raises(BadRequest, match="valid AWS region"):
        adapter()._runtime_base(cred)


@pytest.mark.anyio
async def test_abandoning_a_stream_releases_the_connection(server: ServerThread) -> None:
    # One connection in the pool: if the abandoned stream kept it, the next call could
    # not get one within its connect timeout.
    async with Upstream(allow_private=True, limit=1) as c:
        quick = Timeouts(read=5.0, connect=1.0)
        stream = adapter().chat_stream(Call(c, keys(server), MODEL, quick), user("a b c d"))
        first = await stream.__anext__()
        assert first["choices"][0]["delta"]["role"] == "assistant"
        await stream.aclose()  # type: ignore[attr-defined]
        answer = await adapter().chat(Call(c, keys(server), MODEL, quick), user("again"))
        assert answer["choices"][0]["message"]["content"]
