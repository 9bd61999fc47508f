"""The Azure OpenAI adapter against the Azure and Entra ID routes of the OpenAI fake."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from keyhouse.errors import (
    UpstreamAuthFailed,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from keyhouse.gateway.upstream import Upstream
from keyhouse.providers import catalog
from keyhouse.providers.azure import AzureOpenAIAdapter
from keyhouse.providers.base import Call, Credential
from keyhouse.testing.fakes.openai import create_app
from keyhouse.testing.fakes.server import Recorded, ServerThread, serve
from tests.providers.raw import http_post

AZURE_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
WRONG_KEY = "ffffeeeeddddccccbbbbaaaa99998888"
SECRET = "kh~Entra.Secret_0123456789abcdefgh"
WRONG_SECRET = "kh~Wrong.Secret_9876543210zyxwvuts"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
TENANT = "contoso-tenant"


@pytest.fixture(scope="module")
def fake() -> Iterator[ServerThread]:
    app = create_app(azure_api_key=AZURE_KEY, entra_client_secret=SECRET, entra_client_id=CLIENT_ID)
    with serve(app) as server:
        yield server


def calls(server: ServerThread) -> list[Recorded]:
    recorded: list[Recorded] = server.app.state.calls
    return recorded


def key_credential(server: ServerThread, key: str = AZURE_KEY, **config: str) -> Credential:
    return Credential(
        "key-az",
        "openai",
        "azure",
        {"api_key": key},
        {"endpoint_url": server.url, "api_version": "2024-10-21", **config},
    )


def entra_credential(
    server: ServerThread, secret: str = SECRET, key_id: str = "key-entra", version: int = 1
) -> Credential:
    return Credential(
        key_id,
        "openai",
        "azure_entra_id",
        {"client_secret": secret},
        {
            "tenant_id": TENANT,
            "client_id": CLIENT_ID,
            "endpoint_url": f"{server.url}/",
            "api_version": "2024-10-21",
            "authority_url": server.url,
        },
        version=version,
    )


def adapter() -> AzureOpenAIAdapter:
    return AzureOpenAIAdapter(catalog.BY_ID["openai"])


def chat(text: str = "hello azure", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": text}], **extra}


@pytest.mark.anyio
async def test_api_key_chat_uses_deployment_url_and_api_key_header(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        result = await adapter().chat(
            Call(client, key_credential(fake, deployment="prod-gpt4o"), "gpt-4o"),
            chat(temperature=0.1, max_tokens=50),
        )
    seen = calls(fake)[-1]
    assert seen.path == "/openai/deployments/prod-gpt4o/chat/completions"
    assert parse_qs(seen.query) == {"api-version": ["2024-10-21"]}
    assert seen.headers["api-key"] == AZURE_KEY
    assert "authorization" not in seen.headers
    assert (seen.json["temperature"], seen.json["max_tokens"]) == (0.1, 50)
    assert result["choices"][0]["message"]["content"] == "echo: hello azure"


@pytest.mark.anyio
async def test_deployment_defaults_to_the_model(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        await adapter().chat(Call(client, key_credential(fake), "gpt-4o-mini"), chat())
    assert calls(fake)[-1].path == "/openai/deployments/gpt-4o-mini/chat/completions"


@pytest.mark.anyio
async def test_streaming_passes_azure_chunks_through(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        chunks = [
            c
            async for c in adapter().chat_stream(
                Call(client, key_credential(fake), "gpt-4o"), chat("stream azure")
            )
        ]
    assert calls(fake)[-1].json["stream_options"] == {"include_usage": True}
    # Azure opens with a prompt-filter chunk that has no choices.
    assert chunks[0]["choices"] == [] and "prompt_filter_results" in chunks[0]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "echo: stream azure"
    assert chunks[-1]["usage"]["completion_tokens"] == 3


@pytest.mark.anyio
async def test_tools_and_embeddings(fake: ServerThread) -> None:
    tool = {
        "type": "function",
        "function": {"name": "find", "parameters": {"type": "object", "properties": {}}},
    }
    async with Upstream(allow_private=True) as client:
        call = Call(client, key_credential(fake), "gpt-4o")
        result = await adapter().chat(call, chat("find it", tools=[tool]))
        embedded = await adapter().embeddings(
            Call(client, key_credential(fake), "text-embedding-3-small"),
            {"model": "e", "input": ["a", "b"]},
        )
    assert result["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "find"
    assert calls(fake)[-1].path == "/openai/deployments/text-embedding-3-small/embeddings"
    assert len(embedded["data"]) == 2


@pytest.mark.anyio
async def test_wrong_key_is_redacted(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        with pytest.raises(UpstreamAuthFailed) as info:
            await adapter().chat(
                Call(client, key_credential(fake, key=WRONG_KEY), "gpt-4o"), chat()
            )
    assert "invalid subscription key [REDACTED]" in info.value.message
    assert WRONG_KEY not in str(info.value)


@pytest.mark.anyio
async def test_api_version_is_always_sent(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        cred = Credential(
            "k",
            "openai",
            "azure",
            {"api_key": AZURE_KEY},
            {"endpoint_url": fake.url, "api_version": ""},
        )
        # An empty api_version falls back to the default GA version.
        await adapter().chat(Call(client, cred, "gpt-4o"), chat())
        assert parse_qs(calls(fake)[-1].query)["api-version"] == ["2024-10-21"]
        raw = await http_post(
            f"{fake.url}/openai/deployments/x/chat/completions",
            headers={"api-key": AZURE_KEY},
            json=chat(),
        )
    # Azure answers a request without api-version with a bare 404.
    assert raw.status_code == 404
    assert raw.json() == {"error": {"code": "404", "message": "Resource not found"}}


@pytest.mark.anyio
async def test_rate_limit_and_unavailable(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        with pytest.raises(UpstreamRateLimited) as info:
            await adapter().chat(Call(client, key_credential(fake), "fail-429"), chat())
        assert info.value.retry_after == 0.0
        with pytest.raises(UpstreamUnavailable):
            await adapter().chat(Call(client, key_credential(fake), "fail-503"), chat())
        with pytest.raises(UpstreamUnavailable):
            [
                c
                async for c in adapter().chat_stream(
                    Call(client, key_credential(fake), "fail-503"), chat()
                )
            ]


@pytest.mark.anyio
async def test_verify_lists_models(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        await adapter().verify(Call(client, key_credential(fake), ""))
        seen = calls(fake)[-1]
        assert (seen.method, seen.path, seen.query) == (
            "GET",
            "/openai/models",
            "api-version=2024-10-21",
        )
        with pytest.raises(UpstreamAuthFailed):
            await adapter().verify(Call(client, key_credential(fake, key=WRONG_KEY), ""))


# --- Entra ID ---------------------------------------------------------------------------


def token_requests(server: ServerThread) -> list[Recorded]:
    return [c for c in calls(server) if c.path == f"/{TENANT}/oauth2/v2.0/token"]


@pytest.mark.anyio
async def test_entra_token_is_fetched_once_and_reused(fake: ServerThread) -> None:
    azure = adapter()
    before = len(token_requests(fake))
    async with Upstream(allow_private=True) as client:
        call = Call(client, entra_credential(fake, key_id="key-reuse"), "gpt-4o")
        results = [await azure.chat(call, chat(f"call {i}")) for i in range(3)]
        chunks = [c async for c in azure.chat_stream(call, chat())]
        await azure.embeddings(call, {"model": "e", "input": "x"})
        await azure.verify(call)
    fetched = token_requests(fake)[before:]
    assert len(fetched) == 1
    form = {k: v[0] for k, v in parse_qs(fetched[0].body.decode()).items()}
    assert form == {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "scope": "https://cognitiveservices.azure.com/.default",
    }
    bearer = calls(fake)[-1].headers["authorization"]
    assert bearer.startswith("Bearer ") and bearer[7:] in fake.app.state.entra_tokens
    assert "api-key" not in calls(fake)[-1].headers
    assert [r["choices"][0]["message"]["content"] for r in results] == [
        "echo: call 0",
        "echo: call 1",
        "echo: call 2",
    ]
    assert chunks[-1]["usage"]["total_tokens"] > 0


@pytest.mark.anyio
async def test_concurrent_cold_start_fetches_one_token(fake: ServerThread) -> None:
    azure = adapter()
    before = len(token_requests(fake))
    async with Upstream(allow_private=True) as client:
        call = Call(client, entra_credential(fake, key_id="key-burst"), "gpt-4o")
        results = await asyncio.gather(*(azure.chat(call, chat()) for _ in range(5)))
    assert len(results) == 5
    assert len(token_requests(fake)) - before == 1


@pytest.mark.anyio
async def test_new_key_version_fetches_a_new_token(fake: ServerThread) -> None:
    azure = adapter()
    before = len(token_requests(fake))
    async with Upstream(allow_private=True) as client:
        await azure.chat(Call(client, entra_credential(fake, key_id="key-v"), "m"), chat())
        await azure.chat(
            Call(client, entra_credential(fake, key_id="key-v", version=2), "m"), chat()
        )
    assert len(token_requests(fake)) - before == 2


@pytest.mark.anyio
async def test_wrong_client_secret_is_auth_failure_without_the_secret(fake: ServerThread) -> None:
    async with Upstream(allow_private=True) as client:
        with pytest.raises(UpstreamAuthFailed) as info:
            await adapter().chat(
                Call(client, entra_credential(fake, secret=WRONG_SECRET), "gpt-4o"), chat()
            )
        with pytest.raises(UpstreamAuthFailed):
            await adapter().verify(Call(client, entra_credential(fake, secret=WRONG_SECRET), ""))
    assert "AADSTS7000215" in info.value.message
    assert "[REDACTED]" in info.value.message  # the fake echoed it; we scrubbed it
    assert WRONG_SECRET not in str(info.value) and WRONG_SECRET not in repr(info.value)
    assert calls(fake)[-1].path.endswith("/oauth2/v2.0/token")


@pytest.mark.anyio
async def test_refused_token_is_redacted_and_dropped(fake: ServerThread) -> None:
    azure = adapter()
    cred = entra_credential(fake, key_id="key-stale")
    stale = "eyJ0eXAiOiJKV1Qi.revoked-token-value-123456"
    azure.tokens.put(cred, stale, 3600)
    async with Upstream(allow_private=True) as client:
        call = Call(client, cred, "gpt-4o")
        with pytest.raises(UpstreamAuthFailed) as info:
            await azure.chat(call, chat())
        assert stale not in str(info.value)
        assert "Access token [REDACTED]" in info.value.message
        assert "Access token" in info.value.message
        # The refused token is not reused: the next call gets a fresh one and works.
        result = await azure.chat(call, chat("after refresh"))
    assert result["choices"][0]["message"]["content"] == "echo: after refresh"
