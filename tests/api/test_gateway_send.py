"""The one send path under load and at the edges: every request served, the pool kept
bounded, keep-alive connections reused (streams included), dead ones never reused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from keyhouse.errors import UpstreamTimeout
from keyhouse.gateway.send import open_stream, send, send_json
from keyhouse.gateway.upstream import Timeouts, Upstream
from keyhouse.providers.base import Call, Credential
from keyhouse.testing.fakes.server import ServerThread, serve

CREDENTIAL = Credential("k", "openai", "api_key", {"api_key": "sk-test-secret"}, {})


def _app() -> Starlette:
    async def sse(request: Request) -> Response:
        request.app.state.peers.add(request.client.port if request.client else 0)
        endless = request.query_params.get("endless") == "1"

        async def events() -> AsyncIterator[bytes]:
            yield b'data: {"n": 1}\n\n'
            yield b"data: [DONE]\n\n"
            while endless:  # a server that keeps the body open after its last event
                await asyncio.sleep(0.05)
                yield b": keep-alive\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def echo(request: Request) -> Response:
        delay = float(request.query_params.get("delay", "0"))
        if delay:
            await asyncio.sleep(delay)
        client = request.client
        request.app.state.peers.add(client.port if client else 0)
        return JSONResponse({"n": request.query_params.get("n")})

    app = Starlette(routes=[Route("/echo", echo), Route("/sse", sse)])
    app.state.peers = set()
    return app


def _serve(keep_alive: float = 5.0) -> ServerThread:
    server = ServerThread(_app())
    # uvicorn reads it per connection; it is annotated int, but a float works (and is needed here)
    server.server.config.timeout_keep_alive = keep_alive  # type: ignore[assignment]
    return server.start()


@pytest.fixture
def upstream() -> Iterator[ServerThread]:
    server = _serve()
    yield server
    server.stop()


def _call(client: Upstream, read: float = 10.0) -> Call:
    return Call(client, CREDENTIAL, "m", Timeouts(read=read, connect=5.0))


@pytest.mark.anyio
async def test_many_concurrent_requests_share_a_bounded_pool(upstream: ServerThread) -> None:
    async with Upstream(allow_private=True, limit=8) as client:
        call = _call(client)
        results = await asyncio.gather(
            *(send_json(call, "GET", f"{upstream.url}/echo?n={i}&delay=0.01") for i in range(80))
        )
        assert [r["n"] for r in results] == [str(i) for i in range(80)]
    assert len(upstream.app.state.peers) <= 8


@pytest.mark.anyio
async def test_sequential_requests_reuse_one_connection(upstream: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        for i in range(20):
            assert (await send(_call(client), "GET", f"{upstream.url}/echo?n={i}")).status == 200
    assert len(upstream.app.state.peers) == 1


@pytest.mark.anyio
async def test_a_connection_the_server_closed_is_not_reused() -> None:
    server = _serve(keep_alive=0.1)
    try:
        async with Upstream(allow_private=True) as client:
            assert (await send(_call(client), "GET", f"{server.url}/echo?n=1")).status == 200
            await asyncio.sleep(0.5)  # the server has hung up on the idle connection
            assert (await send(_call(client), "GET", f"{server.url}/echo?n=2")).status == 200
        assert len(server.app.state.peers) == 2
    finally:
        server.stop()


async def _read_until_done(client: Upstream, url: str) -> None:
    """Read an SSE body the way the stream adapters do: stop at [DONE], then close."""
    stream = await open_stream(_call(client), "GET", url)
    try:
        async for _event, data in stream.events():
            if data == "[DONE]":
                break
    finally:
        await stream.aclose()


@pytest.mark.anyio
async def test_a_stream_read_up_to_its_last_event_gives_its_connection_back(
    upstream: ServerThread,
) -> None:
    async with Upstream(allow_private=True) as client:
        for _ in range(5):
            await _read_until_done(client, f"{upstream.url}/sse")
    assert len(upstream.app.state.peers) == 1


@pytest.mark.anyio
async def test_a_body_that_does_not_end_is_cut_without_waiting_for_it(
    upstream: ServerThread,
) -> None:
    async with Upstream(allow_private=True) as client:
        started = time.monotonic()
        await _read_until_done(client, f"{upstream.url}/sse?endless=1")
        assert time.monotonic() - started < 1.0
        await _read_until_done(client, f"{upstream.url}/sse")
    assert len(upstream.app.state.peers) == 2  # the endless one was not reused


@pytest.mark.anyio
async def test_the_read_timeout_is_per_endpoint(upstream: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        with pytest.raises(UpstreamTimeout):
            await send(_call(client, read=0.1), "GET", f"{upstream.url}/echo?delay=0.5")
        answer = await send_json(
            _call(client, read=2.0), "GET", f"{upstream.url}/echo?delay=0.2&n=7"
        )
        assert answer == {"n": "7"}


EVENTS = [
    ("", '{"n": 1}'),
    ("message_start", '{"a": "b"}'),
    ("", "line one\nline two"),
    ("", "[DONE]"),
]
WIRE = (
    b'data: {"n": 1}\n\n: a comment\n\nevent: message_start\ndata: {"a": "b"}\n\n'
    b"data: line one\ndata: line two\n\ndata: [DONE]\n\n"
)


@pytest.mark.anyio
@pytest.mark.parametrize("line_end", [b"\n", b"\r\n", b"\r"])
@pytest.mark.parametrize("piece", [1, 3, 7, 4096])
async def test_server_sent_events_are_read_whatever_the_framing(
    line_end: bytes, piece: int
) -> None:
    wire = WIRE.replace(b"\n", line_end)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for i in range(0, len(wire), piece):  # split anywhere, CRLFs included
            await send(
                {"type": "http.response.body", "body": wire[i : i + piece], "more_body": True}
            )
        await send({"type": "http.response.body", "body": b""})

    with serve(app) as server:
        async with Upstream(allow_private=True) as client:
            stream = await open_stream(_call(client), "GET", server.url)
            try:
                assert [e async for e in stream.events()] == EVENTS
            finally:
                await stream.aclose()


@pytest.mark.anyio
async def test_a_url_is_sent_with_its_escapes_kept_and_what_must_be_escaped_escaped() -> None:
    from keyhouse.testing.fakes.server import Canned, Recorded, serve_canned

    seen: list[str] = []

    def record(request: Recorded) -> Canned:
        seen.append(request.path)
        return 200, b"{}", {}

    with serve_canned(record) as server:
        async with Upstream(allow_private=True) as client:
            # A model id escaped as the AWS SDKs escape it: the %3A must stay (the
            # signature covers the escaped path); a space is escaped on the way out.
            await send(_call(client), "GET", f"{server.url}/model/a.b-v1%3A0/converse")
            await send(_call(client), "GET", f"{server.url}/deployments/my model/x")
    assert seen == ["/model/a.b-v1%3A0/converse", "/deployments/my%20model/x"]
