"""The contract, full stack: for every provider row of PROVIDERS.md's first table (every
auth method) and a vendor row, a key and endpoints are made through the admin API of a
real server, and the official ``openai`` SDK gets the same answers — whole, streamed,
with tools, embeddings — from each provider's fake, which checked the credential the
way the provider does. A wrong credential is a 401 that never shows the secret."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai
import pytest

from keyhouse.app import create_app
from keyhouse.services import bootstrap
from keyhouse.settings import Settings
from keyhouse.testing.fakes.anthropic import create_app as anthropic_fake
from keyhouse.testing.fakes.bedrock import create_app as bedrock_fake
from keyhouse.testing.fakes.gemini import create_app as gemini_fake
from keyhouse.testing.fakes.gemini import make_service_account
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import free_port, serve
from tests.conftest import ADMIN_TOKEN

OAI, AZ, ENTRA, DBX = (
    "sk-oai-" + "o" * 30,
    "azure-key-" + "z" * 22,
    "entra-secret-" + "e" * 20,
    "dapi" + "d" * 32,
)
ANT, GEM, AWS_ID, AWS_SECRET, BR_KEY = (
    "sk-ant-" + "a" * 30,
    "AIza" + "g" * 35,
    "AKIDKEYHOUSE00000001",
    "aws-secret-" + "s" * 29,
    "ABSK" + "b" * 40,
)


@dataclass
class Case:
    name: str
    provider: str
    auth_method: str
    credentials: dict[str, str]
    config: dict[str, str]
    chat_model: str
    embed_model: str | None = None
    wrong: dict[str, str] = field(default_factory=dict)  # a credential the fake refuses


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, list[Case]]]:
    with ExitStack() as stack:
        oai = stack.enter_context(
            serve(
                openai_fake(
                    api_key=OAI, azure_api_key=AZ, entra_client_secret=ENTRA, databricks_token=DBX
                )
            )
        )
        ollama = stack.enter_context(serve(openai_fake(api_key=None)))
        ant = stack.enter_context(serve(anthropic_fake(api_key=ANT)))
        gem_port = free_port()
        sa, public_pem = make_service_account(f"http://127.0.0.1:{gem_port}/token")
        gem = stack.enter_context(
            serve(
                gemini_fake(
                    api_key=GEM, service_account_email=sa["client_email"], public_key_pem=public_pem
                ),
                port=gem_port,
            )
        )
        bed = stack.enter_context(
            serve(bedrock_fake(access_key_id=AWS_ID, secret_access_key=AWS_SECRET))
        )
        bed_key = stack.enter_context(serve(bedrock_fake(api_key=BR_KEY)))
        other_sa, _ = make_service_account(f"http://127.0.0.1:{gem_port}/token")
        azure_cfg = {"endpoint_url": oai.url, "api_version": "2024-10-21"}
        cases = [
            Case(
                "openai",
                "openai",
                "api_key",
                {"api_key": OAI},
                {"base_url": f"{oai.url}/v1"},
                "gpt-4o-mini",
                "text-embedding-3-small",
                {"api_key": "sk-wrong-" + "w" * 30},
            ),
            Case(
                "azure",
                "openai",
                "azure",
                {"api_key": AZ},
                azure_cfg,
                "gpt-4o",
                "text-embedding-3-small",
                {"api_key": "wrong-azure-" + "w" * 20},
            ),
            Case(
                "entra",
                "openai",
                "azure_entra_id",
                {"client_secret": ENTRA},
                {
                    **azure_cfg,
                    "tenant_id": "tenant-1",
                    "client_id": "keyhouse-client",
                    "authority_url": oai.url,
                },
                "gpt-4o",
                "text-embedding-3-small",
                {"client_secret": "wrong-entra-" + "w" * 20},
            ),
            Case(
                "anthropic",
                "anthropic",
                "api_key",
                {"api_key": ANT},
                {"base_url": ant.url},
                "claude-sonnet-4-5",
                None,
                {"api_key": "sk-ant-wrong-" + "w" * 30},
            ),
            Case(
                "gemini",
                "gemini",
                "api_key",
                {"api_key": GEM},
                {"base_url": gem.url},
                "gemini-2.5-flash",
                "text-embedding-004",
                {"api_key": "AIza" + "w" * 35},
            ),
            Case(
                "vertex",
                "vertex_ai",
                "service_account",
                {"service_account_json": json.dumps(sa)},
                {"project_id": "keyhouse-test", "location": "us-central1", "base_url": gem.url},
                "gemini-2.5-flash",
                "text-embedding-004",
                {"service_account_json": json.dumps(other_sa)},
            ),
            Case(
                "bedrock",
                "bedrock",
                "access_keys",
                {"aws_access_key_id": AWS_ID, "aws_secret_access_key": AWS_SECRET},
                {"region": "us-east-1", "base_url": bed.url},
                "anthropic.claude-3-haiku-20240307-v1:0",
                "amazon.titan-embed-text-v2:0",
                {"aws_access_key_id": AWS_ID, "aws_secret_access_key": "w" * 40},
            ),
            Case(
                "bedrock-key",
                "bedrock",
                "api_key",
                {"api_key": BR_KEY},
                {"region": "us-east-1", "base_url": bed_key.url},
                "anthropic.claude-3-haiku-20240307-v1:0",
                "amazon.titan-embed-text-v2:0",
                {"api_key": "ABSK" + "w" * 40},
            ),
            Case(
                "databricks",
                "databricks",
                "token",
                {"token": DBX},
                {"host": oai.url},
                "databricks-meta-llama-3-3-70b-instruct",
                "databricks-gte-large-en",
                {"token": "dapi" + "w" * 32},
            ),
            Case(
                "ollama",
                "ollama",
                "none",
                {},
                {"base_url": f"{ollama.url}/v1"},
                "llama3.2",
                "nomic-embed-text",
            ),
            Case(
                "compatible",
                "openai_compatible",
                "api_key",
                {"api_key": OAI},
                {"base_url": f"{oai.url}/v1"},
                "my-model",
                "my-embedder",
                {"api_key": "sk-wrong-" + "c" * 30},
            ),
            Case(
                "mistral",
                "mistral",
                "api_key",
                {"api_key": OAI},
                {"base_url": f"{oai.url}/v1"},
                "mistral-small-latest",
                "mistral-embed",
                {"api_key": "sk-wrong-" + "m" * 30},
            ),
        ]
        home = tmp_path_factory.mktemp("contract")
        settings = Settings(
            home=home,
            database_url=f"sqlite:///{home}/k.db",
            kek_file=home / "kek.key",
            admin_token=ADMIN_TOKEN,
            allow_private_upstreams=True,
        )
        server = stack.enter_context(serve(create_app(settings, bootstrap(settings))))
        admin = httpx.Client(
            base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        for case in cases:
            for suffix, creds in (("", case.credentials), ("-wrong", case.wrong)):
                if suffix and not creds:
                    continue
                r = admin.post(
                    "/api/v1/keys",
                    json={
                        "name": case.name + suffix,
                        "provider": case.provider,
                        "auth_method": case.auth_method,
                        "credentials": creds,
                        "config": case.config,
                    },
                )
                assert r.status_code == 201, (case.name, r.text)
                key_id = r.json()["id"]
                r = admin.post(
                    "/api/v1/endpoints",
                    json={
                        "name": f"chat-{case.name}{suffix}",
                        "targets": [{"key_id": key_id, "model": case.chat_model}],
                    },
                )
                assert r.status_code == 201, r.text
                if case.embed_model and not suffix:
                    r = admin.post(
                        "/api/v1/endpoints",
                        json={
                            "name": f"embed-{case.name}",
                            "task": "embeddings",
                            "targets": [{"key_id": key_id, "model": case.embed_model}],
                        },
                    )
                    assert r.status_code == 201, r.text
        token = admin.post("/api/v1/access-tokens", json={"name": "contract"}).json()["token"]
        yield server.url, token, cases


def _sdk(world: tuple[str, str, list[Case]]) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{world[0]}/v1", api_key=world[1], max_retries=0)


NAMES = [
    "openai",
    "azure",
    "entra",
    "anthropic",
    "gemini",
    "vertex",
    "bedrock",
    "bedrock-key",
    "databricks",
    "ollama",
    "compatible",
    "mistral",
]
MESSAGES: list[Any] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "hello there"},
]
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "lookup",
            "description": "Look something up.",
            "parameters": {
                "type": "object",
                "properties": {"q": {"type": "string"}},
                "required": ["q"],
            },
        },
    }
]


@pytest.mark.parametrize("name", NAMES)
def test_chat(world: tuple[str, str, list[Case]], name: str) -> None:
    reply = _sdk(world).chat.completions.create(
        model=f"chat-{name}", messages=MESSAGES, max_tokens=50, temperature=0.2
    )
    assert reply.choices[0].message.content == "echo: hello there"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.prompt_tokens > 0
    assert reply.usage.completion_tokens > 0


@pytest.mark.parametrize("name", NAMES)
def test_stream(world: tuple[str, str, list[Case]], name: str) -> None:
    stream = _sdk(world).chat.completions.create(
        model=f"chat-{name}", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    text, finish, usage = "", None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    assert text == "echo: hello there"
    assert finish == "stop"
    assert usage is not None and usage.completion_tokens > 0


@pytest.mark.parametrize("name", NAMES)
def test_tool_round_trip(world: tuple[str, str, list[Case]], name: str) -> None:
    client = _sdk(world)
    first = client.chat.completions.create(model=f"chat-{name}", messages=MESSAGES, tools=TOOLS)
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "lookup"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"q": "hello there"}  # type: ignore[union-attr]
    # The assistant turn goes back as the plain dict the SDK gave us, as a client would.
    again: list[Any] = [
        *MESSAGES,
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "42"},
    ]
    follow = client.chat.completions.create(model=f"chat-{name}", tools=TOOLS, messages=again)
    assert follow.choices[0].message.content == "tool said: 42"


@pytest.mark.parametrize("name", [n for n in NAMES if n != "anthropic"])
def test_embeddings(world: tuple[str, str, list[Case]], name: str) -> None:
    result = _sdk(world).embeddings.create(model=f"embed-{name}", input=["one", "two"])
    assert len(result.data) == 2
    assert len(result.data[0].embedding) > 0
    assert result.data[0].embedding != result.data[1].embedding


@pytest.mark.parametrize("name", [n for n in NAMES if n != "ollama"])
def test_wrong_credential_is_401_without_the_secret(
    world: tuple[str, str, list[Case]], name: str
) -> None:
    case = next(c for c in world[2] if c.name == name)
    with pytest.raises(openai.AuthenticationError) as info:
        _sdk(world).chat.completions.create(model=f"chat-{name}-wrong", messages=MESSAGES)
    text = str(info.value) + json.dumps(info.value.body)
    for secret in case.wrong.values():
        for piece in (secret, secret[-16:]):
            assert piece not in text


def test_anthropic_has_no_embeddings(world: tuple[str, str, list[Case]]) -> None:
    r = httpx.post(
        f"{world[0]}/api/v1/endpoints",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        json={
            "name": "embed-anthropic",
            "task": "embeddings",
            "targets": [{"key_id": "x", "model": "m"}],
        },
    )
    assert r.status_code == 422
