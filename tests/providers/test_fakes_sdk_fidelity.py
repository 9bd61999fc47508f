"""The official SDKs against the fakes: if the openai and anthropic SDKs parse a fake's
answers, errors and streams, the fake speaks the real wire format."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest

from keyhouse.testing.fakes.anthropic import create_app as anthropic_app
from keyhouse.testing.fakes.openai import create_app as openai_app
from keyhouse.testing.fakes.server import ServerThread, serve

KEY = "sk-fidelity-0123456789"
AZURE_KEY = "azure-fidelity-0123456789"
SECRET = "entra-fidelity-secret-0123"
ANTHROPIC_KEY = "sk-ant-fidelity-0123456789"
TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    },
}


@pytest.fixture(scope="module")
def openai_fake() -> Iterator[ServerThread]:
    app = openai_app(api_key=KEY, azure_api_key=AZURE_KEY, entra_client_secret=SECRET)
    with serve(app) as server:
        yield server


@pytest.fixture(scope="module")
def anthropic_fake() -> Iterator[ServerThread]:
    with serve(anthropic_app(api_key=ANTHROPIC_KEY)) as server:
        yield server


@pytest.mark.anyio
async def test_openai_sdk_chat_stream_tools_embeddings(openai_fake: ServerThread) -> None:
    client = openai.AsyncOpenAI(base_url=f"{openai_fake.url}/v1", api_key=KEY, max_retries=0)
    messages: list[openai.types.chat.ChatCompletionMessageParam] = [
        {"role": "user", "content": "hi sdk"}
    ]
    result = await client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert result.choices[0].message.content == "echo: hi sdk"
    stream = await client.chat.completions.create(
        model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    chunks = [c async for c in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "echo: hi sdk"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 5
    tooled = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=messages,
        tools=[TOOL],  # type: ignore[list-item]
    )
    assert tooled.choices[0].finish_reason == "tool_calls"
    # The SDK asks for base64 embeddings by default and decodes them.
    embedded = await client.embeddings.create(
        model="text-embedding-3-small", input=["a", "b"], dimensions=6
    )
    assert [len(d.embedding) for d in embedded.data] == [6, 6]
    models = await client.models.list()
    assert "gpt-4o-mini" in [m.id async for m in models]
    await client.close()


@pytest.mark.anyio
async def test_openai_sdk_sees_the_real_auth_errors(openai_fake: ServerThread) -> None:
    wrong = openai.AsyncOpenAI(
        base_url=f"{openai_fake.url}/v1", api_key="sk-nope-123456", max_retries=0
    )
    with pytest.raises(openai.AuthenticationError) as info:
        await wrong.models.list()
    assert info.value.code == "invalid_api_key"
    assert "Incorrect API key provided: sk-nope-123456" in info.value.message
    await wrong.close()
    limited = openai.AsyncOpenAI(base_url=f"{openai_fake.url}/v1", api_key=KEY, max_retries=0)
    with pytest.raises(openai.RateLimitError):
        await limited.chat.completions.create(
            model="fail-429", messages=[{"role": "user", "content": "x"}]
        )
    await limited.close()


@pytest.mark.anyio
async def test_azure_sdk_with_api_key_and_entra_token(openai_fake: ServerThread) -> None:
    keyed = openai.AsyncAzureOpenAI(
        azure_endpoint=openai_fake.url, api_key=AZURE_KEY, api_version="2024-10-21", max_retries=0
    )
    result = await keyed.chat.completions.create(
        model="my-deployment", messages=[{"role": "user", "content": "hi azure"}]
    )
    assert result.choices[0].message.content == "echo: hi azure"
    await keyed.close()
    async with httpx.AsyncClient() as http:
        token = (
            await http.post(
                f"{openai_fake.url}/tenant-1/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": "keyhouse-client",
                    "client_secret": SECRET,
                    "scope": "https://cognitiveservices.azure.com/.default",
                },
            )
        ).json()["access_token"]
    bearer = openai.AsyncAzureOpenAI(
        azure_endpoint=openai_fake.url,
        azure_ad_token=token,
        api_version="2024-10-21",
        max_retries=0,
    )
    stream = await bearer.chat.completions.create(
        model="my-deployment", stream=True, messages=[{"role": "user", "content": "x"}]
    )
    assert (
        "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == "echo: x"
    )
    await bearer.close()


@pytest.mark.anyio
async def test_anthropic_sdk_create_stream_and_errors(anthropic_fake: ServerThread) -> None:
    client = anthropic.AsyncAnthropic(
        base_url=anthropic_fake.url, api_key=ANTHROPIC_KEY, max_retries=0
    )
    message = await client.messages.create(
        model="claude-fake-1",
        max_tokens=100,
        system="Be nice.",
        messages=[{"role": "user", "content": "hi claude"}],
    )
    assert message.content[0].type == "text" and message.content[0].text == "echo: hi claude"
    assert message.usage.input_tokens == 4
    async with client.messages.stream(
        model="claude-fake-1",
        max_tokens=100,
        messages=[{"role": "user", "content": "use a tool"}],
        tools=[{"name": "lookup", "input_schema": {"type": "object"}}],
    ) as stream:
        final = await stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[0].type == "tool_use" and final.content[0].input == {"q": "use a tool"}
    with pytest.raises(anthropic.BadRequestError, match="fail-400"):
        await client.messages.create(
            model="fail-400", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(anthropic.RateLimitError):
        await client.messages.create(
            model="fail-429", max_tokens=5, messages=[{"role": "user", "content": "x"}]
        )
    await client.close()
    wrong = anthropic.AsyncAnthropic(
        base_url=anthropic_fake.url, api_key="sk-ant-nope", max_retries=0
    )
    with pytest.raises(anthropic.AuthenticationError):
        await wrong.models.list()
    await wrong.close()
