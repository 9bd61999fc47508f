"""The /v1 dispatcher: every error in the caller's envelope, the body limit's one owner,
unexpected exceptions, and the per-call context the hooks receive."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from keyhouse.app import create_app
from keyhouse.gateway.context import CallContext
from keyhouse.gateway.dispatch import GatewayRequest
from keyhouse.gateway.types import Endpoint, Principal, Target
from keyhouse.providers.base import Credential
from keyhouse.services import Services
from keyhouse.settings import Settings
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import ServerThread, serve
from keyhouse.testing.registry import StaticRegistry, gateway_app
from tests.api.conftest import CheckedClient
from tests.conftest import ADMIN_TOKEN, CANARY

CHAT = {"model": "nope", "messages": [{"role": "user", "content": "hi"}]}
MiB = 1024 * 1024


def assert_openai_envelope(body: Any, code: str) -> None:
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def assert_anthropic_envelope(body: Any, type_: str) -> None:
    assert set(body) == {"type", "error"} and body["type"] == "error"
    assert set(body["error"]) == {"type", "message"}
    assert body["error"]["type"] == type_


# (method, path, body, status, OpenAI code or Anthropic type)
OPENAI_CASES = [
    ("POST", "/v1/nope", CHAT, 404, "not_found"),
    ("GET", "/v1/chat/completions", None, 405, "method_not_allowed"),
    ("DELETE", "/v1/models", None, 405, "method_not_allowed"),
    ("POST", "/v1/embeddings", None, 400, "bad_request"),
    ("POST", "/v1/chat/completions", CHAT, 404, "model_not_found"),
    ("PUT", "/v1/", None, 404, "not_found"),
]
ANTHROPIC_CASES = [
    ("POST", "/v1/messages/nope", CHAT, 404, "not_found_error"),
    ("GET", "/v1/messages", None, 405, "invalid_request_error"),
    ("POST", "/v1/messages", CHAT, 404, "not_found_error"),
    ("POST", "/v1/messages", None, 400, "invalid_request_error"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "code"), OPENAI_CASES)
def test_every_v1_error_is_in_the_openai_envelope(
    client: CheckedClient, method: str, path: str, body: Any, status: int, code: str
) -> None:
    response = client.request(method, path, json=body)
    assert response.status_code == status
    assert_openai_envelope(response.json(), code)
    if status == 405:
        assert response.headers["allow"]


@pytest.mark.parametrize(("method", "path", "body", "status", "type_"), ANTHROPIC_CASES)
def test_every_messages_error_is_in_the_anthropic_envelope(
    client: CheckedClient, method: str, path: str, body: Any, status: int, type_: str
) -> None:
    response = client.request(method, path, json=body)
    assert response.status_code == status
    assert_anthropic_envelope(response.json(), type_)


def test_a_missing_token_is_401_in_each_envelope(client: CheckedClient) -> None:
    bare = {"authorization": ""}
    response = client.post("/v1/chat/completions", json=CHAT, headers=bare)
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert_openai_envelope(response.json(), "unauthorized")
    response = client.post("/v1/messages", json=CHAT, headers=bare)
    assert response.status_code == 401
    assert_anthropic_envelope(response.json(), "authentication_error")


@pytest.fixture
def small_limit_client(settings: Settings, services: Services) -> Iterator[CheckedClient]:
    app = create_app(settings.model_copy(update={"max_body_bytes": 4096}), services)
    with CheckedClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as c:
        yield c


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/v1/embeddings", "/v1/messages"])
def test_the_body_limit_has_one_owner_and_one_envelope_per_route(
    small_limit_client: CheckedClient, path: str
) -> None:
    big = {**CHAT, "pad": "x" * 5000}
    declared = small_limit_client.post(path, json=big)
    chunked = small_limit_client.post(path, content=iter([b" " * 3000, b" " * 3000]))
    for response in (declared, chunked):
        assert response.status_code == 413
        if path == "/v1/messages":
            assert_anthropic_envelope(response.json(), "request_too_large")
        else:
            assert_openai_envelope(response.json(), "payload_too_large")
    # Under the limit the same route gets past the body check.
    assert small_limit_client.post(path, json=CHAT).status_code == 404


def test_keyhouse_max_body_bytes_raises_the_gateway_limit(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, services: Services
) -> None:
    # Past the old hard-coded 10 MiB: the setting is the only limit.
    monkeypatch.setenv("KEYHOUSE_MAX_BODY_BYTES", str(12 * MiB))
    settings = Settings(
        home=tmp_path / "home",
        database_url=database_url,
        kek_file=tmp_path / "kek.key",
        admin_token=ADMIN_TOKEN,
    )
    assert settings.max_body_bytes == 12 * MiB
    app = create_app(settings, services)
    with CheckedClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as c:
        body = {**CHAT, "pad": "x" * (11 * MiB)}
        assert c.post("/v1/chat/completions", json=body).status_code == 404  # model_not_found
        body = {**CHAT, "pad": "x" * (13 * MiB)}
        assert c.post("/v1/chat/completions", json=body).status_code == 413


@pytest.mark.parametrize("path", ["/v1/boom", "/v1/messages/boom"])
def test_an_unexpected_exception_is_logged_as_its_type_and_a_request_id(
    client: CheckedClient, caplog: pytest.LogCaptureFixture, path: str
) -> None:
    async def boom(request: GatewayRequest, ctx: CallContext) -> Any:
        raise RuntimeError(f"a foreign message quoting {CANARY[:20]}")

    client.app.state.gateway.add_route(path, "POST", boom)  # type: ignore[attr-defined]
    with caplog.at_level(logging.DEBUG):
        response = client.post(path, json={})
    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    body = response.json()
    if path.startswith("/v1/messages"):
        assert_anthropic_envelope(body, "api_error")
    else:
        assert_openai_envelope(body, "internal_error")
    assert request_id in str(body) and "foreign" not in str(body)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged and request_id in logged
    assert "foreign" not in logged and CANARY[:20] not in logged
    assert not any(r.exc_info for r in caplog.records)


# --- the per-call context the usage/limits hooks receive ---------------------------------


@pytest.fixture(scope="module")
def upstream() -> Iterator[ServerThread]:
    with serve(openai_fake(api_key=CANARY, azure_api_key=CANARY)) as server:
        yield server


def test_hooks_see_each_calls_outcome(upstream: ServerThread) -> None:
    token = "kh_at_hook_test_token"
    base = {"base_url": f"{upstream.url}/v1"}
    registry = StaticRegistry(
        endpoints=[
            Endpoint(
                id="e",
                name="chat",
                task="chat",
                max_retries=0,
                targets=(
                    Target("k-down", "openai", "fail-503"),
                    Target("k-ok", "openai", "gpt-4o-mini", role="fallback"),
                ),
            ),
        ],
        credentials=[
            Credential("k-ok", "openai", "api_key", {"api_key": CANARY}, base, version=3),
            Credential("k-down", "openai", "api_key", {"api_key": CANARY}, base),
        ],
        tokens={token: Principal("t1", "hooks", is_admin=False)},
    )
    app = gateway_app(registry)
    seen: list[CallContext] = []
    admitted: list[str | None] = []

    async def admit(ctx: CallContext, endpoint: Endpoint, body: dict[str, Any]) -> None:
        assert endpoint.name == ctx.endpoint and body["model"] == "chat"
        admitted.append(ctx.endpoint)

    app.state.gateway.on_complete.append(seen.append)
    app.state.gateway.admission.append(admit)
    with serve(app) as server:
        sdk = openai.OpenAI(base_url=f"{server.url}/v1", api_key=token, max_retries=0)
        sdk.chat.completions.create(model="chat", messages=[{"role": "user", "content": "a"}])
        chunks = list(
            sdk.chat.completions.create(
                model="chat",
                stream=True,
                stream_options={"include_usage": True},
                messages=[{"role": "user", "content": "b"}],
            )
        )
        assert chunks
        with pytest.raises(openai.NotFoundError):
            sdk.chat.completions.create(model="nope", messages=[])
    assert admitted == ["chat", "chat"]
    plain, streamed, failed = seen
    for ctx in (plain, streamed):
        assert ctx.endpoint == "chat" and ctx.principal is not None
        assert ctx.principal.name == "hooks"
        assert (ctx.key_id, ctx.credential_version, ctx.provider, ctx.model) == (
            "k-ok",
            3,
            "openai",
            "gpt-4o-mini",
        )
        assert ctx.status == 200 and ctx.error_code is None
        assert ctx.attempts == 2 and ctx.fallback_used
        assert ctx.ttfb is not None and ctx.latency is not None and ctx.latency >= ctx.ttfb
        tokens = ctx.tokens()
        assert tokens is not None and tokens["total_tokens"] > 0
    assert not plain.stream and streamed.stream
    assert (failed.status, failed.error_code, failed.endpoint) == (404, "model_not_found", None)


# --- non-stream answers relayed as the upstream's bytes ---------------------------------


def _relay_registry(broken_url: str, good_url: str, provider: str) -> StaticRegistry:
    config = (
        {"endpoint_url": good_url, "api_version": "2024-10-21"}
        if provider == "azure"
        else {"base_url": f"{good_url}/v1"}
    )
    method = "azure" if provider == "azure" else "api_key"
    return StaticRegistry(
        endpoints=[
            Endpoint(
                id="r",
                name="relay",
                task="chat",
                max_retries=0,
                targets=(Target("good", "openai", "gpt-4o-mini"),),
            ),
            Endpoint(
                id="b",
                name="broken-first",
                task="chat",
                max_retries=0,
                targets=(
                    Target("broken", "openai", "gpt-4o-mini"),
                    Target("good", "openai", "gpt-4o-mini", role="fallback"),
                ),
            ),
        ],
        credentials=[
            Credential("good", "openai", method, {"api_key": CANARY}, config),
            Credential(
                "broken", "openai", "api_key", {"api_key": CANARY}, {"base_url": f"{broken_url}/v1"}
            ),
        ],
        tokens={"kh_at_relay": Principal("t", "relay", is_admin=False)},
    )


PRETTY = json.dumps(
    {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "héllo"},
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    },
    indent=2,
    ensure_ascii=True,
).encode()


@pytest.mark.parametrize("provider", ["openai", "azure"])
def test_a_chat_answer_is_relayed_byte_for_byte_and_a_non_json_200_falls_back(
    provider: str,
) -> None:
    import httpx

    from keyhouse.testing.fakes.server import serve_canned

    page = b"<html><body>502 Bad Gateway</body></html>"
    # An upstream whose serialisation no encoder of ours would reproduce (indented,
    # ASCII-escaped): what the caller gets must be exactly these bytes.
    pretty = serve_canned(lambda request: (200, PRETTY, {"content-type": "application/json"}))
    with (
        serve_canned(lambda request: (200, page, {"content-type": "text/html"})) as broken,
        pretty as good,
        serve(gateway_app(_relay_registry(broken.url, good.url, provider))) as gw,
    ):
        headers = {"authorization": "Bearer kh_at_relay"}
        body = {"model": "relay", "messages": [{"role": "user", "content": "hi"}]}
        answer = httpx.post(f"{gw.url}/v1/chat/completions", json=body, headers=headers)
        assert answer.status_code == 200
        assert answer.content == PRETTY
        fell_back = httpx.post(
            f"{gw.url}/v1/chat/completions", json={**body, "model": "broken-first"}, headers=headers
        )
        assert fell_back.status_code == 200
        assert fell_back.content == PRETTY


def test_an_admission_hook_can_refuse_and_the_completion_hook_still_runs() -> None:
    import httpx

    from keyhouse.errors import Forbidden

    registry = StaticRegistry(
        endpoints=[Endpoint(id="e", name="chat", task="chat", targets=(Target(None, None, "m"),))],
        tokens={"kh_at_admit": Principal("t", "admit", is_admin=False)},
    )
    app = gateway_app(registry)
    seen: list[CallContext] = []

    async def refuse(ctx: CallContext, endpoint: Endpoint, body: dict[str, Any]) -> None:
        raise Forbidden(f"{ctx.principal.name if ctx.principal else '?'} is over its limit.")

    app.state.gateway.admission.append(refuse)
    app.state.gateway.on_complete.append(seen.append)
    with serve(app) as server:
        for path in ("/v1/chat/completions", "/v1/messages"):
            response = httpx.post(
                f"{server.url}{path}",
                headers={"authorization": "Bearer kh_at_admit"},
                json={"model": "chat", "messages": [], "max_tokens": 1},
            )
            assert response.status_code == 403
            assert "admit is over its limit" in response.text
    assert [(c.route, c.endpoint, c.status, c.error_code, c.attempts) for c in seen] == [
        ("/v1/chat/completions", "chat", 403, "forbidden", 0),
        ("/v1/messages", "chat", 403, "forbidden", 0),
    ]


# An OpenAI-framed stream as an upstream may format it: spaced JSON, a comment, a usage
# chunk, and no [DONE] of its own.
SSE_CHUNK = (
    b'data: {"id": "c", "object": "chat.completion.chunk", "created": 1, '
    b'"model": "m", "choices": [{"index": 0, "delta": {"content": "h\\u00e9"}, '
    b'"finish_reason": null}]}'
)
SSE_USAGE = (
    b'data: {"id": "c", "object": "chat.completion.chunk", "created": 1, '
    b'"model": "m", "choices": [], "usage": {"prompt_tokens": 2, '
    b'"completion_tokens": 3, "total_tokens": 5}}'
)
SSE_WIRE = SSE_CHUNK + b"\n\n: keep-alive\n\n" + SSE_USAGE + b"\n\n"


@pytest.mark.parametrize("include_usage", [True, False])
def test_an_openai_framed_stream_is_relayed_as_its_bytes(include_usage: bool) -> None:
    import httpx

    from keyhouse.testing.fakes.server import serve_canned

    seen: list[CallContext] = []
    page = b"data: <html>not an event stream</html>\n\n"
    sse = {"content-type": "text/event-stream"}
    with (
        serve_canned(lambda request: (200, SSE_WIRE, sse)) as good,
        serve_canned(lambda request: (200, page, sse)) as broken,
    ):
        app = gateway_app(_relay_registry(broken.url, good.url, "openai"))
        app.state.gateway.on_complete.append(seen.append)
        with serve(app) as gw:
            headers = {"authorization": "Bearer kh_at_relay"}
            for name in ("relay", "broken-first"):  # the second falls back to the first
                body: dict[str, Any] = {"model": name, "stream": True, "messages": []}
                if include_usage:
                    body["stream_options"] = {"include_usage": True}
                answer = httpx.post(f"{gw.url}/v1/chat/completions", json=body, headers=headers)
                assert answer.status_code == 200
                expected = (
                    SSE_CHUNK
                    + b"\n\n: keep-alive\n\n"
                    + (SSE_USAGE + b"\n\n" if include_usage else b"")
                    + b"data: [DONE]\n\n"
                )
                assert answer.content == expected
    # The usage reached the hooks whether or not the caller asked for it.
    assert [c.tokens() for c in seen] == [
        {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    ] * 2
    assert [c.fallback_used for c in seen] == [False, True]


def _chunk_event(content: str, usage: Any = "absent") -> bytes:
    chunk: dict[str, Any] = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }
    if usage != "absent":
        chunk["usage"] = usage
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def _paced(pieces: list[bytes]) -> Any:
    """An upstream that writes each piece on its own, a little apart, so the gateway
    reads them as separate runs of events."""
    import asyncio

    from starlette.applications import Starlette
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    async def chat(request: Any) -> StreamingResponse:
        async def body() -> Any:
            for piece in pieces:
                yield piece
                await asyncio.sleep(0.05)

        return StreamingResponse(body(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])


USAGE = {"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10}
NULLS = [_chunk_event(f"w{i} ", usage=None) for i in range(6)]  # OpenAI with include_usage


@pytest.mark.parametrize(
    ("case", "pieces"),
    [
        (
            "runs of content chunks, then the usage and [DONE] in one read",
            [
                _chunk_event("first "),
                b"".join(_chunk_event(f"w{i} ") for i in range(6)),
                b": keep-alive\n\n" + _chunk_event("", usage=USAGE) + b"data: [DONE]\n\n",
            ],
        ),
        (
            'every chunk with "usage": null, the usage inside a run of content',
            [
                _chunk_event("first ", usage=None),
                b"".join(NULLS[:3]),
                b"".join(NULLS[3:]) + _chunk_event("", usage=USAGE),
                b"data: [DONE]\n\n",
            ],
        ),
    ],
)
@pytest.mark.parametrize("include_usage", [True, False])
def test_runs_of_events_are_relayed_whole_and_the_usage_still_found(
    case: str, pieces: list[bytes], include_usage: bool
) -> None:
    """Past the first event, a read's run of content chunks goes out whole; a run that
    holds the usage chunk or [DONE] is read event by event, so the usage is recorded
    (and shown only to a caller who asked) and the stream ends at [DONE]."""
    import httpx

    seen: list[CallContext] = []
    with serve(_paced(pieces)) as good:
        app = gateway_app(_relay_registry(good.url, good.url, "openai"))
        app.state.gateway.on_complete.append(seen.append)
        with serve(app) as gw:
            body: dict[str, Any] = {"model": "relay", "stream": True, "messages": []}
            if include_usage:
                body["stream_options"] = {"include_usage": True}
            answer = httpx.post(
                f"{gw.url}/v1/chat/completions",
                json=body,
                headers={"authorization": "Bearer kh_at_relay"},
            )
    assert answer.status_code == 200
    events = [e for e in answer.content.split(b"\n\n") if e.startswith(b"data: ")]
    assert events[-1] == b"data: [DONE]"
    chunks = [json.loads(e[6:]) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"]["content"] for c in chunks if c["choices"])
    assert text == "first " + "".join(f"w{i} " for i in range(6))
    with_usage = [c for c in chunks if c.get("usage")]
    assert with_usage == ([json.loads(_chunk_event("", usage=USAGE)[6:])] if include_usage else [])
    assert [c.tokens() for c in seen] == [USAGE], case
