"""VertexAdapter against the fake Vertex AI endpoints and the fake OAuth2 token endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import anyio
import pytest
from starlette.applications import Starlette

from keyhouse.errors import (
    BadRequest,
    UpstreamAuthFailed,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from keyhouse.gateway.upstream import Upstream
from keyhouse.providers.base import Call, Credential
from keyhouse.providers.catalog import get
from keyhouse.providers.registry import Adapters
from keyhouse.providers.vertex import GRANT_TYPE, VertexAdapter, make_assertion
from keyhouse.testing.fakes.gemini import create_app, make_service_account
from keyhouse.testing.fakes.server import free_port, serve
from tests.providers.raw import http_post

pytestmark = pytest.mark.anyio

_SPEC = get("vertex_ai")
assert _SPEC is not None
SPEC = _SPEC
PROJECT = "keyhouse-test"
PORT = free_port()
TOKEN_URI = f"http://127.0.0.1:{PORT}/token"
ACCOUNT, PUBLIC_PEM = make_service_account(TOKEN_URI)
TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "parameters": {
            "type": "object",
            "properties": {"q": {"type": "string"}},
            "additionalProperties": False,
        },
    },
}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Starlette, str]]:
    app = create_app(service_account_email=ACCOUNT["client_email"], public_key_pem=PUBLIC_PEM)
    with serve(app, PORT) as running:
        yield app, running.url


@pytest.fixture
def app(server: tuple[Starlette, str]) -> Iterator[Starlette]:
    fake = server[0]
    fake.state.calls.clear()
    yield fake
    # The private key never leaves the gateway, in any request.
    key_body = ACCOUNT["private_key"].split("-----")[2].strip().splitlines()[1]
    for call in fake.state.calls:
        assert key_body not in call.body.decode() and key_body not in call.query


@pytest.fixture
async def client() -> Any:
    async with Upstream(allow_private=True) as c:
        yield c


def credential(
    url: str,
    account: dict[str, Any] | None = None,
    version: int = 1,
    key_id: str = "key_v",
    **config: str,
) -> Credential:
    return Credential(
        key_id=key_id,
        provider="vertex_ai",
        auth_method="service_account",
        secrets={"service_account_json": json.dumps(account or ACCOUNT)},
        config={"base_url": url, "project_id": PROJECT, "location": "us-central1", **config},
        version=version,
    )


def make_call(client: Upstream, cred: Credential, model: str = "gemini-2.5-flash") -> Call:
    return Call(client=client, credential=cred, model=model)


def token_calls(app: Starlette) -> list[Any]:
    return [c for c in app.state.calls if c.path == "/token"]


def user(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


async def test_registry_serves_vertex_with_this_adapter() -> None:
    assert isinstance(Adapters().get(SPEC, "service_account"), VertexAdapter)


async def test_chat_with_a_token_from_the_service_account(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    adapter = VertexAdapter(SPEC)
    out = await adapter.chat(
        make_call(client, credential(server[1])),
        {
            "messages": [
                {"role": "system", "content": "Be kind."},
                {"role": "user", "content": "hello vertex"},
            ]
        },
    )
    assert out["choices"][0]["message"]["content"] == "echo: hello vertex"
    assert out["usage"] == {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7}
    grant, chat = app.state.calls
    assert grant.path == "/token"
    form = parse_qs(grant.body.decode())
    assert form["grant_type"] == [GRANT_TYPE] and len(form["assertion"]) == 1
    assert chat.path == (
        f"/v1/projects/{PROJECT}/locations/us-central1/publishers/google/"
        "models/gemini-2.5-flash:generateContent"
    )
    scheme, token = chat.headers["authorization"].split(" ")
    assert scheme == "Bearer" and token in app.state.tokens
    assert chat.json["systemInstruction"] == {"parts": [{"text": "Be kind."}]}


async def test_one_token_serves_many_calls_even_concurrent_first_ones(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    adapter = VertexAdapter(SPEC)
    call = make_call(client, credential(server[1]))
    results: list[dict[str, Any]] = []

    async def one(i: int) -> None:
        results.append(await adapter.chat(call, user(f"hi {i}")))

    async with anyio.create_task_group() as group:
        for i in range(6):
            group.start_soon(one, i)
    [chunk async for chunk in adapter.chat_stream(call, user("streamed"))]
    await adapter.embeddings(
        make_call(client, credential(server[1]), "text-embedding-005"), {"input": "x"}
    )
    assert len(results) == 6
    assert len(token_calls(app)) == 1
    tokens = {c.headers["authorization"] for c in app.state.calls if c.path != "/token"}
    assert len(tokens) == 1


async def test_a_new_credential_version_fetches_a_new_token(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    adapter = VertexAdapter(SPEC)
    await adapter.chat(make_call(client, credential(server[1], version=1)), user("a"))
    await adapter.chat(make_call(client, credential(server[1], version=1)), user("b"))
    await adapter.chat(make_call(client, credential(server[1], version=2)), user("c"))
    assert len(token_calls(app)) == 2
    first, second, third = (
        c.headers["authorization"] for c in app.state.calls if c.path != "/token"
    )
    assert first == second != third


async def test_a_revoked_token_is_replaced_once(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    adapter = VertexAdapter(SPEC)
    call = make_call(client, credential(server[1]))
    await adapter.chat(call, user("before"))
    app.state.tokens.clear()  # Google revoked every token it issued
    out = await adapter.chat(call, user("after"))
    assert out["choices"][0]["message"]["content"] == "echo: after"
    assert len(token_calls(app)) == 2
    statuses = [c.path.rsplit(":", 1)[-1] for c in app.state.calls]
    assert statuses == ["/token", "generateContent", "generateContent", "/token", "generateContent"]


async def test_streaming(app: Starlette, server: tuple[Starlette, str], client: Upstream) -> None:
    adapter = VertexAdapter(SPEC)
    chunks = [
        c
        async for c in adapter.chat_stream(
            make_call(client, credential(server[1])), user("one two")
        )
    ]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "echo: one two"
    assert chunks[-1]["usage"]["completion_tokens"] == 3
    stream = app.state.calls[-1]
    assert stream.path.endswith(":streamGenerateContent") and stream.query == "alt=sse"


async def test_tools_round_trip(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    adapter = VertexAdapter(SPEC)
    call = make_call(client, credential(server[1]), model="gemini-3-pro-preview")
    messages: list[dict[str, Any]] = [{"role": "user", "content": "look this up"}]
    first = await adapter.chat(call, {"messages": messages, "tools": [TOOL]})
    message = first["choices"][0]["message"]
    assert first["choices"][0]["finish_reason"] == "tool_calls"
    messages += [
        message,
        {"role": "tool", "tool_call_id": message["tool_calls"][0]["id"], "content": "found it"},
    ]
    second = await adapter.chat(call, {"messages": messages, "tools": [TOOL]})
    assert second["choices"][0]["message"]["content"] == "tool said: found it"


async def test_embeddings_use_predict_one_instance_per_gemini_embedding_call(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    adapter = VertexAdapter(SPEC)
    cred = credential(server[1])
    out = await adapter.embeddings(
        make_call(client, cred, "gemini-embedding-001"),
        {"input": ["one", "two words", "three little words"], "dimensions": 8},
    )
    assert [len(d["embedding"]) for d in out["data"]] == [8, 8, 8]
    assert out["usage"] == {"prompt_tokens": 6, "total_tokens": 6}
    predicts = [c for c in app.state.calls if c.path.endswith(":predict")]
    assert len(predicts) == 3
    assert all(len(c.json["instances"]) == 1 for c in predicts)
    assert predicts[0].json["parameters"] == {"outputDimensionality": 8}
    # Order survives the concurrent calls.
    single = await adapter.embeddings(
        make_call(client, cred, "gemini-embedding-001"), {"input": "two words", "dimensions": 8}
    )
    assert single["data"][0]["embedding"] == out["data"][1]["embedding"]

    app.state.calls.clear()
    batched = await adapter.embeddings(
        make_call(client, cred, "text-embedding-005"), {"input": ["a", "b", "c"]}
    )
    assert len(batched["data"]) == 3
    (predict,) = app.state.calls
    assert predict.json == {"instances": [{"content": "a"}, {"content": "b"}, {"content": "c"}]}


async def test_a_key_the_token_endpoint_refuses_is_auth_failed_and_scrubbed(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    # Same account, another private key: the signature does not verify.
    other, _ = make_service_account(TOKEN_URI)
    forged = {**other, "client_email": ACCOUNT["client_email"]}
    with pytest.raises(UpstreamAuthFailed) as caught:
        await VertexAdapter(SPEC).chat(make_call(client, credential(server[1], forged)), user("hi"))
    message = caught.value.message
    assert "Invalid JWT Signature" in message
    assertion = parse_qs(app.state.calls[0].body.decode())["assertion"][0]
    assert assertion not in message and "[REDACTED]" in message  # the fake echoed it
    assert "PRIVATE KEY" not in message
    assert len(app.state.calls) == 1  # no model call without a token


async def test_an_unknown_account_is_auth_failed(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    stranger, _ = make_service_account(TOKEN_URI)
    stranger["client_email"] = "stranger@elsewhere.iam.gserviceaccount.com"
    with pytest.raises(UpstreamAuthFailed, match="account not found"):
        await VertexAdapter(SPEC).verify(make_call(client, credential(server[1], stranger)))


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not json",
        "[]",
        '{"type": "authorized_user"}',
        '{"client_email": "a@b"}',
        '{"client_email": "a@b", "private_key": "garbage"}',
    ],
)
async def test_a_broken_service_account_json_is_refused_without_a_request(
    raw: str, app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    cred = credential(server[1])
    cred = Credential(
        cred.key_id, cred.provider, cred.auth_method, {"service_account_json": raw}, cred.config
    )
    with pytest.raises(UpstreamAuthFailed) as caught:
        await VertexAdapter(SPEC).chat(make_call(client, cred), user("hi"))
    assert "garbage" not in caught.value.message
    error = caught.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    assert app.state.calls == []


async def test_a_token_the_api_refuses_is_auth_failed_and_scrubbed(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    adapter = VertexAdapter(SPEC)
    call = make_call(client, credential(server[1]))
    auth = await adapter.authorize(call)  # a freshly fetched token...
    app.state.tokens.clear()  # ...that Google then refuses: no retry can help
    with pytest.raises(UpstreamAuthFailed) as caught:
        await adapter.request(
            call, "POST", adapter.model_url(call, "generateContent"), {"contents": []}, auth=auth
        )
    assert caught.value.upstream_status == 401
    assert auth.token and auth.token not in caught.value.message
    assert "[REDACTED]" in caught.value.message  # the fake echoed the token
    assert len(token_calls(app)) == 1


async def test_rate_limit_and_unavailable(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    adapter = VertexAdapter(SPEC)
    with pytest.raises(UpstreamRateLimited) as limited:
        await adapter.chat(make_call(client, credential(server[1]), "fail-429"), user("x"))
    assert limited.value.retry_after == 0
    with pytest.raises(UpstreamUnavailable):
        await adapter.chat(make_call(client, credential(server[1]), "fail-503"), user("x"))


async def test_verify_fetches_a_fresh_token_and_lists_models(
    app: Starlette, server: tuple[Starlette, str], client: Upstream
) -> None:
    adapter = VertexAdapter(SPEC)
    call = make_call(client, credential(server[1]))
    await adapter.chat(call, user("warm the cache"))
    await adapter.verify(call)
    paths = [c.path for c in app.state.calls]
    assert paths[-2:] == ["/token", "/v1beta1/publishers/google/models"]
    assert app.state.calls[-1].headers["authorization"].startswith("Bearer ya29.fake-")


async def test_the_token_endpoint_checks_audience_and_lifetime(
    server: tuple[Starlette, str], client: Upstream, app: Starlette
) -> None:
    for info, now in (
        ({**ACCOUNT, "token_uri": "https://oauth2.googleapis.com/token"}, None),
        (ACCOUNT, 1_000_000_000),
    ):
        response = await http_post(
            TOKEN_URI, data={"grant_type": GRANT_TYPE, "assertion": make_assertion(info, now)}
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_grant"
    good = await http_post(
        TOKEN_URI, data={"grant_type": GRANT_TYPE, "assertion": make_assertion(ACCOUNT)}
    )
    assert good.status_code == 200
    assert good.json()["expires_in"] == 3600 and good.json()["token_type"] == "Bearer"


async def test_the_fake_refuses_a_missing_token_like_vertex(
    server: tuple[Starlette, str], client: Upstream, app: Starlette
) -> None:
    url = (
        f"{server[1]}/v1/projects/{PROJECT}/locations/us-central1/publishers/google/models/"
        "gemini-2.5-flash:generateContent"
    )
    response = await http_post(url, json={"contents": []})
    error = response.json()["error"]
    assert response.status_code == 401 and error["status"] == "UNAUTHENTICATED"
    assert error["details"][0]["reason"] == "CREDENTIALS_MISSING"


def test_default_hosts_follow_the_location() -> None:
    adapter = VertexAdapter(SPEC)

    def url(location: str) -> str:
        cred = Credential(
            "k", "vertex_ai", "service_account", {}, {"project_id": PROJECT, "location": location}
        )
        return adapter.model_url(
            Call(Upstream(allow_private=True), cred, "gemini-2.5-flash"), "generateContent"
        )

    assert url("europe-west4") == (
        "https://europe-west4-aiplatform.googleapis.com/v1/projects/keyhouse-test/locations/"
        "europe-west4/publishers/google/models/gemini-2.5-flash:generateContent"
    )
    assert url("global").startswith("https://aiplatform.googleapis.com/v1/projects/")
    pasted = Credential(
        "k",
        "vertex_ai",
        "service_account",
        {},
        {"project_id": PROJECT, "base_url": "https://vertex.example/v1/"},
    )
    assert (
        adapter.base_url(Call(Upstream(allow_private=True), pasted, "m"))
        == "https://vertex.example"
    )
    for bad in ("evil.com/x", "us-central1.attacker.net", "a b"):
        with pytest.raises(BadRequest):
            url(bad)
