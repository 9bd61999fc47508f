"""GeminiAdapter when something is refused: keys, rate limits, error bodies and events,
redirects, unsafe model names, and verify."""

from __future__ import annotations

import json
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
from keyhouse.testing.fakes.server import Canned, Recorded, serve_canned
from tests.providers.gemini.conftest import ADAPTER, KEY, WRONG, collect, make_call, user
from tests.providers.raw import http_post

pytestmark = pytest.mark.anyio


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
