"""SECURITY.md tests 11 and 12 through the gateway.

11: an upstream 401 whose body echoes the key → the caller and the logs see it redacted.
12: a key whose URL points at a private or metadata address → refused at connect time,
    nothing reaches that address.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from keyhouse.gateway.types import Endpoint, Principal, Target
from keyhouse.providers.base import Credential
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import ServerThread, serve
from keyhouse.testing.registry import StaticRegistry, gateway_app
from tests.conftest import CANARY

TOKEN = "kh_at_security_tests"
HEADERS = {"authorization": f"Bearer {TOKEN}"}
GOOD = "sk-the-right-key-" + "g" * 24


@pytest.fixture(scope="module")
def upstream() -> Iterator[ServerThread]:
    # Accepts only GOOD; a wrong key comes back in full in the error body.
    with serve(openai_fake(api_key=GOOD, azure_api_key=GOOD)) as server:
        yield server


def _registry(upstream: ServerThread, base_url: str | None = None) -> StaticRegistry:
    base = {"base_url": base_url or f"{upstream.url}/v1"}
    azure = {"endpoint_url": upstream.url, "api_version": "2024-10-21", "deployment": "gpt-4o-mini"}
    return StaticRegistry(
        endpoints=[
            Endpoint(
                id="1",
                name="chat",
                task="chat",
                max_retries=0,
                targets=(Target("leaky", "openai", "gpt-4o-mini"),),
            ),
            Endpoint(
                id="2",
                name="embed",
                task="embeddings",
                max_retries=0,
                targets=(Target("leaky", "openai", "text-embedding-3-small"),),
            ),
            Endpoint(
                id="3",
                name="azure",
                task="chat",
                max_retries=0,
                targets=(Target("leaky-azure", "openai", "gpt-4o-mini"),),
            ),
        ],
        credentials=[
            Credential("leaky", "openai", "api_key", {"api_key": CANARY}, base),
            Credential("leaky-azure", "openai", "azure", {"api_key": CANARY}, azure),
        ],
        tokens={TOKEN: Principal("t", "tests", is_admin=False)},
    )


async def _client(
    registry: StaticRegistry, allow_private: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    app = gateway_app(registry, allow_private=allow_private)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gw", headers=HEADERS, timeout=30
        ) as client:
            yield client


@pytest.fixture
async def client(upstream: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async for c in _client(_registry(upstream)):
        yield c


def _assert_clean(text: str) -> None:
    assert CANARY not in text
    assert CANARY[-12:] not in text
    assert CANARY[:16] not in text


MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"model": "chat", "messages": MESSAGES}),
        ("/v1/chat/completions", {"model": "chat", "messages": MESSAGES, "stream": True}),
        ("/v1/embeddings", {"model": "embed", "input": "hi"}),
        ("/v1/messages", {"model": "chat", "max_tokens": 10, "messages": MESSAGES}),
        ("/v1/messages", {"model": "chat", "max_tokens": 10, "messages": MESSAGES, "stream": True}),
        ("/v1/chat/completions", {"model": "azure", "messages": MESSAGES}),
    ],
)
async def test_an_upstream_401_echoing_the_key_is_redacted_for_caller_and_logs(
    client: httpx.AsyncClient,
    upstream: ServerThread,
    caplog: pytest.LogCaptureFixture,
    path: str,
    body: dict[str, Any],
) -> None:
    caplog.set_level(logging.DEBUG)
    upstream.app.state.calls.clear()
    response = await client.post(path, json=body)
    assert response.status_code == 401
    # The upstream really did echo the key: the test would prove nothing otherwise.
    assert upstream.app.state.calls, "the request never reached the upstream"
    assert "[REDACTED]" in response.text
    _assert_clean(response.text)
    _assert_clean(caplog.text)
    assert any("upstream_auth_failed" in r.getMessage() for r in caplog.records)


@pytest.mark.anyio
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]", "2130706433"])
async def test_a_private_upstream_is_refused_at_connect_time(
    upstream: ServerThread, host: str
) -> None:
    # The key was saved while private upstreams were allowed (or DNS later changed):
    # the shared client still refuses to connect when the setting is off.
    upstream.app.state.calls.clear()
    registry = _registry(upstream, base_url=f"http://{host}:{upstream.port}/v1")
    async for client in _client(registry, allow_private=False):
        response = await client.post(
            "/v1/chat/completions", json={"model": "chat", "messages": MESSAGES}
        )
        assert response.status_code == 502
        assert "not allowed" in response.json()["error"]["message"]
    assert upstream.app.state.calls == []


@pytest.mark.anyio
async def test_a_metadata_upstream_is_refused_even_when_private_is_allowed(
    upstream: ServerThread,
) -> None:
    registry = _registry(upstream, base_url="http://169.254.169.254/latest")
    started = time.monotonic()
    async for client in _client(registry, allow_private=True):
        response = await client.post(
            "/v1/chat/completions", json={"model": "chat", "messages": MESSAGES}
        )
        assert response.status_code == 502
        assert "metadata" in response.json()["error"]["message"]
    assert time.monotonic() - started < 2  # refused before any connect attempt
