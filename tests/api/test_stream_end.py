"""A chat stream is over for its caller with its ``data: [DONE]`` event: the end of the
body goes out with it, without waiting for the upstream to end its own body."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from keyhouse.app import create_app
from keyhouse.gateway.send import Stream
from keyhouse.services import Services
from keyhouse.settings import Settings
from keyhouse.testing.fakes.server import serve
from tests.api.conftest import openai_key
from tests.conftest import ADMIN_TOKEN

SECRET = "sk-stream-end-" + "e" * 24
CHUNK = (
    b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m",'
    b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},'
    b'"finish_reason":null}]}\n\n'
)
# The upstream ends its body only once the test is done with the caller's stream.
UPSTREAM_ENDS = threading.Event()


async def upstream(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            if (await receive())["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    assert (b"authorization", f"Bearer {SECRET}".encode()) in scope["headers"]
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"text/event-stream")]})  # fmt: skip
    await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": True})
    for _ in range(1000):  # 10 s at most
        if UPSTREAM_ENDS.is_set():
            break
        await asyncio.sleep(0.01)
    await send({"type": "http.response.body", "body": b""})


@pytest.fixture
def gateway(
    settings: Settings, services: Services, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[httpx.Client, str]]:
    # A gateway that waited for the upstream's end would wait as long as the upstream.
    monkeypatch.setattr(Stream, "drain_seconds", 30.0)
    UPSTREAM_ENDS.clear()
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    with (
        serve(upstream) as up,
        serve(create_app(settings, services)) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        key = client.post(
            "/api/v1/keys", json=openai_key("k", SECRET, base_url=up.url + "/v1"), headers=admin
        ).json()["id"]
        client.post(
            "/api/v1/endpoints",
            json={"name": "chat", "targets": [{"key_id": key, "model": "m"}]},
            headers=admin,
        ).raise_for_status()
        try:
            yield client, ADMIN_TOKEN
        finally:
            UPSTREAM_ENDS.set()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_caller_has_the_whole_stream_before_the_upstream_ends(
    gateway: tuple[httpx.Client, str],
) -> None:
    client, token = gateway
    body = {"model": "chat", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {token}"}
    with client.stream(
        "POST", "/v1/chat/completions", json=body, headers=headers, timeout=5
    ) as answer:
        assert answer.status_code == 200
        received = answer.read()  # a ReadTimeout here: the end waited for the upstream's
    assert not UPSTREAM_ENDS.is_set()
    assert received.endswith(b"data: [DONE]\n\n")
    assert b'"content":"Hi"' in received
