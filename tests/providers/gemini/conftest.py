"""The GeminiAdapter and the Gemini API fake it runs against (a real HTTP server on
127.0.0.1), shared by the tests of this folder."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette

from keyhouse.gateway.upstream import Upstream
from keyhouse.providers.base import Call, Credential
from keyhouse.providers.catalog import get
from keyhouse.providers.gemini import GeminiAdapter
from keyhouse.testing.fakes.gemini import create_app
from keyhouse.testing.fakes.server import serve

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
