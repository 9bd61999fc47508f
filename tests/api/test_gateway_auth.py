"""Who may call the gateway, and what a request must look like (in-process app)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.requests import Request

from keyhouse.gateway.types import Endpoint, Principal, Target
from keyhouse.testing.registry import StaticRegistry, gateway_app

TOKEN = "kh_at_" + "a" * 40
ADMIN = "kh_admin_" + "b" * 40
LIMITED = "kh_at_" + "c" * 40

CHAT = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}


def _registry() -> StaticRegistry:
    # The endpoints' key is gone: a request that gets past auth answers 503 no key,
    # which proves it got past auth without needing an upstream.
    return StaticRegistry(
        endpoints=[
            Endpoint(id="1", name="chat", task="chat", targets=(Target(None, None, "m"),)),
            Endpoint(id="2", name="other", task="chat", targets=(Target(None, None, "m"),)),
            Endpoint(id="3", name="embed", task="embeddings", targets=(Target(None, None, "m"),)),
        ],
        tokens={
            TOKEN: Principal("t1", "app", is_admin=False),
            ADMIN: Principal("admin", "admin", is_admin=True),
            LIMITED: Principal("t2", "limited", is_admin=False, endpoints=frozenset({"chat"})),
        },
    )


@pytest.fixture
async def app() -> AsyncIterator[FastAPI]:
    app = gateway_app(_registry())
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
        yield c


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


@pytest.mark.anyio
@pytest.mark.parametrize(
    "headers",
    [
        {},
        _bearer("kh_at_unknown"),
        {"x-api-key": "kh_at_unknown"},
        {"authorization": "Bearer "},
        {"authorization": "Basic " + "dXNlcjpwYXNz"},
        _bearer("x" * 10_000),
    ],
)
async def test_missing_or_wrong_token_is_401_in_the_openai_envelope(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "authentication_error"
    assert error["code"] == "unauthorized"
    assert set(error) == {"message", "type", "param", "code"}


@pytest.mark.anyio
async def test_messages_answers_401_in_the_anthropic_envelope(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/messages", json=CHAT, headers={"x-api-key": "nope"})
    assert response.status_code == 401
    assert response.json() == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "The access token is not valid."},
    }


@pytest.mark.anyio
@pytest.mark.parametrize(
    "headers",
    [
        _bearer(TOKEN),
        {"x-api-key": TOKEN},
        _bearer(ADMIN),
        {"Authorization": f"bearer {TOKEN}"},
    ],
)
async def test_bearer_or_x_api_key_gets_past_auth(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "endpoint_has_no_key"


@pytest.mark.anyio
async def test_a_token_limited_to_some_endpoints_gets_403_elsewhere(
    client: httpx.AsyncClient,
) -> None:
    ok = await client.post("/v1/chat/completions", json=CHAT, headers=_bearer(LIMITED))
    assert ok.status_code == 503
    denied = await client.post(
        "/v1/chat/completions", json={**CHAT, "model": "other"}, headers=_bearer(LIMITED)
    )
    assert denied.status_code == 403
    assert denied.json()["error"]["type"] == "permission_error"
    models = await client.get("/v1/models", headers=_bearer(LIMITED))
    assert [m["id"] for m in models.json()["data"]] == ["chat"]
    one = await client.get("/v1/models/other", headers=_bearer(LIMITED))
    assert one.status_code == 403


@pytest.mark.anyio
async def test_models_list_is_the_openai_shape(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/models", headers=_bearer(TOKEN))
    assert response.json() == {
        "object": "list",
        "data": [
            {"id": name, "object": "model", "created": 0, "owned_by": "keyhouse"}
            for name in ("chat", "embed", "other")
        ],
    }
    assert (await client.get("/v1/models")).status_code == 401
    missing = await client.get("/v1/models/nope", headers=_bearer(TOKEN))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


@pytest.mark.anyio
async def test_the_web_session_counts_only_with_the_client_header(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    def session_principal(request: Request) -> Principal | None:
        if request.cookies.get("keyhouse_session") != "good-session":
            return None
        if request.headers.get("x-keyhouse-client") != "web":
            return None
        return Principal("web-session", "web-session", is_admin=True)

    # The app factory hands the gateway its session check (admin.auth's in create_app).
    app.state.gateway.session_check = session_principal
    cookie = {"cookie": "keyhouse_session=good-session"}
    web = {**cookie, "x-keyhouse-client": "web"}
    assert (await client.post("/v1/chat/completions", json=CHAT, headers=web)).status_code == 503
    assert (await client.post("/v1/chat/completions", json=CHAT, headers=cookie)).status_code == 401
    bad = {"cookie": "keyhouse_session=forged", "x-keyhouse-client": "web"}
    assert (await client.post("/v1/chat/completions", json=CHAT, headers=bad)).status_code == 401


# --- the request body ----------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
        (json.dumps({"messages": []}).encode(), "'model' is required"),
        (json.dumps({"model": 42}).encode(), "'model' is required"),
        (json.dumps({**CHAT, "stream": "yes"}).encode(), "'stream' must be"),
        (json.dumps({**CHAT, "model": "embed"}).encode(), "serves embeddings"),
    ],
)
async def test_bad_bodies_are_400(client: httpx.AsyncClient, body: bytes, message: str) -> None:
    response = await client.post(
        "/v1/chat/completions",
        content=body,
        headers={**_bearer(TOKEN), "content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert message in error["message"]


@pytest.mark.anyio
async def test_model_errors_name_the_param(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/chat/completions", json={"messages": []}, headers=_bearer(TOKEN)
    )
    assert response.json()["error"]["param"] == "model"
    response = await client.post(
        "/v1/chat/completions", json={**CHAT, "model": "nope"}, headers=_bearer(TOKEN)
    )
    assert response.status_code == 404
    assert response.json()["error"] == {
        "message": "No endpoint is named 'nope'.",
        "type": "not_found_error",
        "param": "model",
        "code": "model_not_found",
    }


@pytest.mark.anyio
async def test_embeddings_route_refuses_a_chat_endpoint(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/embeddings", json={"model": "chat", "input": "x"}, headers=_bearer(TOKEN)
    )
    assert response.status_code == 400
    assert "/v1/chat/completions" in response.json()["error"]["message"]


@pytest.mark.anyio
async def test_an_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    big: dict[str, Any] = {**CHAT, "pad": "x" * (10 * 1024 * 1024)}
    response = await client.post("/v1/chat/completions", json=big, headers=_bearer(TOKEN))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length to trust
        for _ in range(11):
            yield b" " * (1024 * 1024)

    response = await client.post("/v1/chat/completions", content=chunked(), headers=_bearer(TOKEN))
    assert response.status_code == 413
