"""Fallback, traffic split, Retry-After and streams that break — through the real app,
the real shared client and real upstream servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

import httpx
import openai
import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from keyhouse.gateway.routing import Router
from keyhouse.gateway.types import Endpoint, Principal, Target
from keyhouse.providers.base import Credential
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.openai_model import completion
from keyhouse.testing.fakes.server import ServerThread, serve
from keyhouse.testing.registry import StaticRegistry, gateway_app

TOKEN = "kh_at_routing_tests"
SECRET = "sk-routing-" + "r" * 32
HEADERS = {"authorization": f"Bearer {TOKEN}"}


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    data = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(data)}\n\n".encode()


def scripted_upstream() -> Starlette:
    """An OpenAI-compatible server whose behaviour is picked by the model name."""
    seen: Counter[str] = Counter()

    async def chat(request: Request) -> Response:
        body = await request.json()
        model = body["model"]
        seen[model] += 1
        request.app.state.calls.append(model)
        if model == "limited-once" and seen[model] == 1:
            return JSONResponse(
                {"error": {"message": "slow down", "type": "requests"}},
                status_code=429,
                headers={"retry-after": "1"},
            )
        if model == "limited-long":
            return JSONResponse(
                {"error": {"message": "slow down", "type": "requests"}},
                status_code=429,
                headers={"retry-after": "30"},
            )
        if model == "redirect":
            return Response(
                status_code=302, headers={"location": "http://169.254.169.254/latest/meta-data/"}
            )
        if body.get("stream"):
            return StreamingResponse(_stream(model), media_type="text/event-stream")
        return JSONResponse(completion(body, model, "openai"))

    async def _stream(model: str) -> AsyncIterator[bytes]:
        yield _chunk({"role": "assistant", "content": ""})
        yield _chunk({"content": "partial"})
        if model == "error-mid-stream":
            error = {
                "error": {
                    "message": "The server had an error while processing your request.",
                    "type": "server_error",
                }
            }
            yield f"data: {json.dumps(error)}\n\n".encode()
            return
        if model == "stall-mid-stream":
            await asyncio.sleep(30)
        yield _chunk({}, "stop")
        yield b"data: [DONE]\n\n"

    app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])])
    app.state.calls = []
    return app


@pytest.fixture(scope="module")
def fake() -> Iterator[ServerThread]:
    with serve(openai_fake(api_key=SECRET)) as server:
        yield server


@pytest.fixture(scope="module")
def scripted() -> Iterator[ServerThread]:
    with serve(scripted_upstream()) as server:
        yield server


def _registry(fake: ServerThread, scripted: ServerThread) -> StaticRegistry:
    return StaticRegistry(
        credentials=[
            Credential(
                "fake", "openai", "api_key", {"api_key": SECRET}, {"base_url": f"{fake.url}/v1"}
            ),
            Credential(
                "scripted",
                "openai_compatible",
                "api_key",
                {"api_key": SECRET},
                {"base_url": f"{scripted.url}/v1"},
            ),
        ],
        tokens={TOKEN: Principal("t", "tests", is_admin=False)},
    )


def _endpoint(
    name: str, *targets: tuple[str, str, int, str], max_retries: int = 1, timeout: float = 10.0
) -> Endpoint:
    return Endpoint(
        id=name,
        name=name,
        task="chat",
        max_retries=max_retries,
        timeout_seconds=timeout,
        targets=tuple(
            Target(key, None, model, weight, role)  # type: ignore[arg-type]
            for key, model, weight, role in targets
        ),
    )


@pytest.fixture
async def gateway(
    fake: ServerThread, scripted: ServerThread
) -> AsyncIterator[tuple[httpx.AsyncClient, StaticRegistry, FastAPI]]:
    registry = _registry(fake, scripted)
    app = gateway_app(registry, router=Router(random.Random(1234)))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gw", headers=HEADERS, timeout=30
        ) as client:
            yield client, registry, app
    fake.app.state.calls.clear()
    scripted.app.state.calls.clear()


def _chat(model: str, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hello"}], **extra}


@pytest.mark.anyio
async def test_fallback_serves_when_the_primary_answers_503(
    gateway: tuple[httpx.AsyncClient, StaticRegistry, FastAPI], fake: ServerThread
) -> None:
    client, registry, _ = gateway
    registry.put_endpoint(
        _endpoint(
            "ha",
            ("fake", "fail-503", 1, "primary"),
            ("fake", "gpt-4o", 1, "fallback"),
            max_retries=1,
        )
    )
    started = time.monotonic()
    response = await client.post("/v1/chat/completions", json=_chat("ha"))
    assert response.status_code == 200
    assert response.json()["model"] == "gpt-4o"
    assert [c.json["model"] for c in fake.app.state.calls] == ["fail-503", "fail-503", "gpt-4o"]
    assert time.monotonic() - started < 2  # one short backoff, not a long wait


@pytest.mark.anyio
async def test_streams_fall_back_too(
    gateway: tuple[httpx.AsyncClient, StaticRegistry, FastAPI], fake: ServerThread
) -> None:
    client, registry, _ = gateway
    registry.put_endpoint(
        _endpoint(
            "ha",
            ("fake", "fail-503", 1, "primary"),
            ("fake", "gpt-4o", 1, "fallback"),
            max_retries=0,
        )
    )
    response = await client.post("/v1/chat/completions", json=_chat("ha", stream=True))
    assert response.status_code == 200
    assert response.text.endswith("data: [DONE]\n\n")
    chunks = [
        json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: {")
    ]
    assert " hello" in [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]


@pytest.mark.anyio
async def test_a_force_deleted_key_moves_to_the_fallback_then_answers_503(
    gateway: tuple[httpx.AsyncClient, StaticRegistry, FastAPI],
) -> None:
    client, registry, _ = gateway
    registry.put_endpoint(
        _endpoint(
            "orphaned", ("gone", "gpt-4o", 1, "primary"), ("fake", "gpt-4o-mini", 1, "fallback")
        )
    )
    assert (await client.post("/v1/chat/completions", json=_chat("orphaned"))).status_code == 200
    registry.put_endpoint(_endpoint("orphaned", ("gone", "gpt-4o", 1, "primary")))
    response = await client.post("/v1/chat/completions", json=_chat("orphaned"))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "endpoint_has_no_key"


@pytest.mark.anyio
async def test_traffic_split_follows_the_weights(
    gateway: tuple[httpx.AsyncClient, StaticRegistry, FastAPI], fake: ServerThread
) -> None:
    client, registry, _ = gateway
    registry.put_endpoint(
        _endpoint("split", ("fake", "gpt-4o", 3, "primary"), ("fake", "gpt-4o-mini", 1, "primary"))
    )
    for _ in range(200):
        assert (await client.post("/v1/chat/completions", json=_chat("split"))).status_code == 200
    served = Counter(c.json["model"] for c in fake.app.state.calls)
    assert sum(served.values()) == 200
    assert 0.65 < served["gpt-4o"] / 200 < 0.85


@pytest.mark.anyio
async def test_retry_after_is_honoured(
    gateway: tuple[httpx.AsyncClient, StaticRegistry, FastAPI], scripted: ServerThread
) -> None:
    client, registry, _ = gateway
    registry.put_endpoint(
        _endpoint("limited", ("scripted", "limited-once", 1, "primary"), max_retries=1)
    )
    started = time.monotonic()
    response = await client.post("/v1/chat/completions", json=_chat("limited"))
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert scripted.app.state.calls == ["limited-once", "limited-once"]
    assert 1.0 <= elapsed < 3.0


@pytest.mark.anyio
async def test_a_long_retry_after_is_not_waited_and_reaches_the_caller(
    gateway: tuple[httpx.AsyncClient, StaticRegistry, FastAPI], scripted: ServerThread
) -> None:
    client, registry, _ = gateway
    registry.put_endpoint(
        _endpoint("limited", ("scripted", "limited-long", 1, "primary"), max_retries=3)
    )
    started = time.monotonic()
    response = await client.post("/v1/chat/completions", json=_chat("limited"))
    assert time.monotonic() - started < 1.0
    assert response.status_code == 429
    assert response.headers["retry-after"] == "30"
    assert scripted.app.state.calls == ["limited-long"]


@pytest.mark.anyio
async def test_an_error_event_mid_stream_ends_the_stream_with_an_error_event(
    gateway: tuple[httpx.AsyncClient, StaticRegistry, FastAPI], scripted: ServerThread
) -> None:
    client, registry, _ = gateway
    registry.put_endpoint(
        _endpoint(
            "flaky",
            ("scripted", "error-mid-stream", 1, "primary"),
            ("fake", "gpt-4o", 1, "fallback"),
        )
    )
    response = await client.post("/v1/chat/completions", json=_chat("flaky", stream=True))
    assert response.status_code == 200
    events = [e for e in response.text.split("\n\n") if e]
    assert json.loads(events[1].removeprefix("data: "))["choices"][0]["delta"] == {
        "content": "partial"
    }
    last = json.loads(events[-1].removeprefix("data: "))
    assert last["error"]["code"] == "upstream_unavailable"
    assert "[DONE]" not in response.text
    assert scripted.app.state.calls == ["error-mid-stream"]  # no fallback after first byte


@pytest.mark.anyio
async def test_a_stalled_stream_times_out_into_an_error_event(
    gateway: tuple[httpx.AsyncClient, StaticRegistry, FastAPI],
) -> None:
    client, registry, _ = gateway
    registry.put_endpoint(
        _endpoint("stall", ("scripted", "stall-mid-stream", 1, "primary"), timeout=0.5)
    )
    started = time.monotonic()
    response = await client.post("/v1/chat/completions", json=_chat("stall", stream=True))
    assert time.monotonic() - started < 3
    last = json.loads(response.text.strip().split("\n\n")[-1].removeprefix("data: "))
    assert last["error"]["code"] == "upstream_timeout"


@pytest.mark.anyio
async def test_the_openai_sdk_raises_on_a_mid_stream_error(
    gateway: tuple[httpx.AsyncClient, StaticRegistry, FastAPI],
) -> None:
    client, registry, _ = gateway
    registry.put_endpoint(_endpoint("flaky", ("scripted", "error-mid-stream", 1, "primary")))
    sdk = openai.AsyncOpenAI(
        base_url="http://gw/v1",
        api_key=TOKEN,
        max_retries=0,
        # openai types this as an httpx2 client; it takes an httpx one too
        http_client=cast(Any, client),
    )
    stream = await sdk.chat.completions.create(
        model="flaky", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    seen = []
    with pytest.raises(openai.APIError, match="server had an error"):
        async for chunk in stream:
            seen.append(chunk.choices[0].delta.content)
    assert "partial" in seen


@pytest.mark.anyio
async def test_a_redirect_is_not_followed(
    gateway: tuple[httpx.AsyncClient, StaticRegistry, FastAPI], scripted: ServerThread
) -> None:
    client, registry, _ = gateway
    registry.put_endpoint(_endpoint("moved", ("scripted", "redirect", 1, "primary"), max_retries=0))
    response = await client.post("/v1/chat/completions", json=_chat("moved"))
    assert response.status_code == 502
    assert scripted.app.state.calls == ["redirect"]
    assert "169.254.169.254" not in response.text


@pytest.mark.anyio
async def test_a_mid_stream_error_on_messages_is_an_anthropic_error_event(
    gateway: tuple[httpx.AsyncClient, StaticRegistry, FastAPI],
) -> None:
    client, registry, _ = gateway
    registry.put_endpoint(_endpoint("flaky", ("scripted", "error-mid-stream", 1, "primary")))
    response = await client.post(
        "/v1/messages",
        json={
            "model": "flaky",
            "max_tokens": 10,
            "stream": True,
            "messages": [{"role": "user", "content": "hi"}],
        },
    )
    assert response.status_code == 200
    events = [e for e in response.text.split("\n\n") if e]
    assert events[0].startswith("event: message_start")
    assert any('"text":"partial"' in e for e in events)
    name, data = events[-1].split("\n")
    assert name == "event: error"
    assert json.loads(data.removeprefix("data: ")) == {
        "type": "error",
        "error": {
            "type": "overloaded_error",
            "message": "Upstream (openai_compatible) answered 500: The server had an error while "
            "processing your request.",
        },
    }
    assert not any(e.startswith("event: message_stop") for e in events)
