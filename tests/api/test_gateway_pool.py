"""The shared client's connection pool under concurrency: every request served, limits
kept, dead keep-alive connections never reused, and bookkeeping that does not probe every
idle socket on every request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from keyhouse.gateway.http import create_client
from keyhouse.gateway.pool import LeanConnectionPool
from keyhouse.testing.fakes.server import ServerThread


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
    server.server.config.timeout_keep_alive = keep_alive  # uvicorn reads it per connection
    return server.start()


@pytest.fixture
def upstream() -> Iterator[ServerThread]:
    server = _serve()
    yield server
    server.stop()


def _pool(client: httpx.AsyncClient) -> LeanConnectionPool:
    pool = client._transport._pool  # type: ignore[attr-defined]
    assert isinstance(pool, LeanConnectionPool)
    return pool


@pytest.mark.anyio
async def test_many_concurrent_requests_share_a_bounded_pool(upstream: ServerThread) -> None:
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=4)
    async with create_client(allow_private=True, limits=limits) as client:
        results = await asyncio.gather(*(
            client.get(f"{upstream.url}/echo?n={i}&delay=0.01") for i in range(80)))
        assert [r.json()["n"] for r in results] == [str(i) for i in range(80)]
        assert len(upstream.app.state.peers) <= 8
        idle = [c for c in _pool(client).connections if c.is_idle()]
        assert len(idle) <= 4


@pytest.mark.anyio
async def test_sequential_requests_reuse_one_connection(upstream: ServerThread) -> None:
    async with create_client(allow_private=True) as client:
        for i in range(20):
            assert (await client.get(f"{upstream.url}/echo?n={i}")).status_code == 200
    assert len(upstream.app.state.peers) == 1


@pytest.mark.anyio
async def test_a_connection_the_server_closed_is_not_reused() -> None:
    server = _serve(keep_alive=0.1)
    try:
        async with create_client(allow_private=True) as client:
            assert (await client.get(f"{server.url}/echo?n=1")).status_code == 200
            await asyncio.sleep(0.5)  # the server has hung up on the idle connection
            assert (await client.get(f"{server.url}/echo?n=2")).status_code == 200
        assert len(server.app.state.peers) == 2
    finally:
        server.stop()


@pytest.mark.anyio
async def test_a_full_pool_makes_room_for_another_origin(upstream: ServerThread) -> None:
    other = _serve()
    try:
        limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
        async with create_client(allow_private=True, limits=limits) as client:
            for _ in range(3):
                await asyncio.gather(*(client.get(f"{upstream.url}/echo") for _ in range(2)))
                response = await client.get(f"{other.url}/echo")
                assert response.status_code == 200
                assert len(_pool(client).connections) <= 2
    finally:
        other.stop()


@pytest.mark.anyio
async def test_one_request_does_not_probe_every_idle_connection(
        upstream: ServerThread) -> None:
    async with create_client(allow_private=True) as client:
        await asyncio.gather(*(client.get(f"{upstream.url}/echo?delay=0.05")
                               for _ in range(30)))
        pool = _pool(client)
        assert len(pool.connections) == 30
        probes: list[Any] = []
        for connection in pool.connections:
            original = connection.has_expired

            def counted(original: Any = original) -> bool:
                probes.append(1)
                return bool(original())

            connection.has_expired = counted
        pool._next_sweep = float("inf")  # no periodic sweep during the measured request
        assert (await client.get(f"{upstream.url}/echo")).status_code == 200
        assert len(probes) <= 2  # httpcore's own pass probed all 30, twice


async def _read_until_done(client: httpx.AsyncClient, url: str) -> None:
    """Read an SSE body the way the stream adapters do: stop at [DONE], then close."""
    async with client.stream("GET", url) as response:
        async for line in response.aiter_lines():
            if line == "data: [DONE]":
                break


@pytest.mark.anyio
async def test_a_stream_read_up_to_its_last_event_gives_its_connection_back(
        upstream: ServerThread) -> None:
    async with create_client(allow_private=True) as client:
        for _ in range(5):
            await _read_until_done(client, f"{upstream.url}/sse")
    assert len(upstream.app.state.peers) == 1


@pytest.mark.anyio
async def test_a_body_that_does_not_end_is_cut_without_waiting_for_it(
        upstream: ServerThread) -> None:
    async with create_client(allow_private=True) as client:
        started = time.monotonic()
        await _read_until_done(client, f"{upstream.url}/sse?endless=1")
        assert time.monotonic() - started < 1.0
        await _read_until_done(client, f"{upstream.url}/sse")
    assert len(upstream.app.state.peers) == 2  # the endless one was not reused
