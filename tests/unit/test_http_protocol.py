"""``keyhouse serve``'s HTTP protocol: each answer's header block goes out with its
first body bytes, in one write, unless the body is not ready in the same loop step."""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from keyhouse.http_protocol import JOIN_BELOW, HeldHeaders, JoiningHttpToolsProtocol
from keyhouse.testing.fakes.server import ServerThread, free_port


class FakeTransport:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", data))

    def close(self) -> None:
        self.closing = True
        self.calls.append(("close", None))

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def end_of_step(loop: asyncio.AbstractEventLoop) -> None:
    loop.run_until_complete(asyncio.sleep(0))


class Cycle:
    """uvicorn's RequestResponseCycle, as far as HeldHeaders sees it."""

    def __init__(self, transport: FakeTransport) -> None:
        self.transport: Any = transport

    def write(self, data: bytes) -> None:  # what the cycle's send does
        self.transport.write(data)


def held(loop: asyncio.AbstractEventLoop) -> tuple[Cycle, FakeTransport]:
    fake = FakeTransport()
    cycle = Cycle(fake)
    cycle.transport = HeldHeaders(cycle, fake, loop)  # type: ignore[arg-type]
    return cycle, fake


def test_the_header_block_goes_out_with_the_first_body_bytes(
    loop: asyncio.AbstractEventLoop,
) -> None:
    cycle, fake = held(loop)
    cycle.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert fake.calls == []
    cycle.write(b"{}")
    assert cycle.transport is fake  # the request's later writes skip the wrapper
    cycle.write(b"more")
    end_of_step(loop)
    assert fake.calls == [("write", b"HTTP/1.1 200 OK\r\n\r\n{}"), ("write", b"more")]


def test_a_large_body_is_not_copied_onto_the_header_block(
    loop: asyncio.AbstractEventLoop,
) -> None:
    cycle, fake = held(loop)
    body = b"x" * JOIN_BELOW
    cycle.write(b"headers")
    cycle.write(body)
    assert fake.calls == [("write", b"headers"), ("write", body)]
    assert fake.calls[1][1] is body


def test_the_header_block_goes_out_alone_at_the_end_of_the_step(
    loop: asyncio.AbstractEventLoop,
) -> None:
    cycle, fake = held(loop)
    cycle.write(b"headers")
    end_of_step(loop)
    assert fake.calls == [("write", b"headers")]
    assert cycle.transport is fake
    cycle.write(b"event")
    assert fake.calls[-1] == ("write", b"event")


def test_close_sends_the_header_block_first(loop: asyncio.AbstractEventLoop) -> None:
    cycle, fake = held(loop)
    cycle.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    cycle.transport.close()
    end_of_step(loop)
    assert fake.calls == [("write", b"HTTP/1.1 400 Bad Request\r\n\r\n"), ("close", None)]


def test_the_header_block_is_dropped_on_a_closing_transport(
    loop: asyncio.AbstractEventLoop,
) -> None:
    cycle, fake = held(loop)
    assert cycle.transport.get_extra_info("peername") == "info:peername"
    cycle.write(b"headers")
    fake.closing = True
    assert cycle.transport.is_closing()
    end_of_step(loop)
    assert fake.calls == []


# --- a real server -------------------------------------------------------------------


class CountingTransport:
    """What reaches the socket: one entry per write (a system call each)."""

    writes: list[bytes] = []

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CountingProtocol(JoiningHttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        counting: Any = CountingTransport(transport)
        super().connection_made(counting)


FIRST_EVENT = threading.Event()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await receive()
    if scope["path"] == "/json":
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"application/json"), (b"content-length", b"2")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b"{}"})
        return
    # A stream whose first event is not ready yet: its headers must not wait for it.
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"text/event-stream")]})  # fmt: skip
    # It comes once the caller has the headers (or after 5 s, when the test has failed).
    for _ in range(500):
        if FIRST_EVENT.is_set():
            break
        await asyncio.sleep(0.01)
    await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
    await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def server() -> Iterator[ServerThread]:
    running = ServerThread(app)
    running.server.config.http = CountingProtocol
    running.start()
    CountingTransport.writes = []
    try:
        yield running
    finally:
        running.stop()


def request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nhost: x\r\n\r\n".encode()


def test_a_json_answer_is_one_write(server: ServerThread) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        for _ in range(3):  # keep-alive: every answer on the connection, not just the first
            sock.sendall(request("/json"))
            answer = b""
            while not answer.endswith(b"{}"):
                answer += sock.recv(4096)
            assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert len(CountingTransport.writes) == 3
    assert all(
        w.startswith(b"HTTP/1.1 200") and w.endswith(b"\r\n\r\n{}")
        for w in CountingTransport.writes
    )


def test_pipelined_requests_get_one_write_each(server: ServerThread) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(request("/json") * 3)  # all three before any answer
        answers = b""
        while answers.count(b"{}") < 3:
            answers += sock.recv(4096)
    assert answers.count(b"HTTP/1.1 200 OK\r\n") == 3
    assert len(CountingTransport.writes) == 3


def test_a_stream_gets_its_headers_before_its_first_event(server: ServerThread) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        FIRST_EVENT.clear()
        sock.sendall(request("/stream"))
        sock.settimeout(2)  # the first event waits for the headers, so they must not wait
        head = sock.recv(4096)
        FIRST_EVENT.set()
        assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n")
        rest = b""
        while not rest.endswith(b"0\r\n\r\n"):
            rest += sock.recv(4096)
    assert b"data: 1\n\n" in rest


def test_serve_runs_the_joining_protocol(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from click.testing import CliRunner

    from keyhouse.cli import main

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: seen.update(options))
    try:
        result = CliRunner().invoke(
            main,
            ["serve", "--port", str(free_port())],
            env={"KEYHOUSE_HOME": str(tmp_path / "home"), "KEYHOUSE_ADMIN_TOKEN": None},
        )
    finally:
        gc.enable()  # serve turns the collector off for start-up
    assert result.exit_code == 0, result.output
    assert seen["http"] is JoiningHttpToolsProtocol
