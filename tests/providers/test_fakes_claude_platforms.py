"""The ``anthropic`` SDK's own AnthropicBedrock and AnthropicVertex clients against the
Bedrock and Vertex fakes' Claude routes: the SDK parses their answers, event-stream and
SSE streams, so the fakes speak the platforms' wire formats; and the fakes refuse what
the platforms refuse (a wrong signature or token, the wrong ``anthropic_version``,
``model`` or an unknown field in the body, a profile id for CountTokens).

This SDK release fills ``anthropic_version`` with its own API version; the platforms
take only ``bedrock-2023-05-31`` / ``vertex-2023-10-16`` (the values AWS and Google
document, and the ones Keyhouse sends), so the tests pass them as the SDK's callers
would for these platforms."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest
from starlette.applications import Starlette

from keyhouse.testing.fakes.bedrock import create_app as bedrock_app
from keyhouse.testing.fakes.gemini import make_service_account
from keyhouse.testing.fakes.server import ServerThread, free_port, serve
from keyhouse.testing.fakes.vertex_claude import create_app as vertex_app

AWS_ID, AWS_SECRET = "AKIDFIDELITY00000001", "fidelity-secret-" + "f" * 24
MODEL = "anthropic.claude-sonnet-4-5-20250929-v1:0"
PORT = free_port()
ACCOUNT, PUBLIC_PEM = make_service_account(f"http://127.0.0.1:{PORT}/token")
BEDROCK_VERSION = {"anthropic_version": "bedrock-2023-05-31"}
VERTEX_VERSION = {"anthropic_version": "vertex-2023-10-16"}
HI: Any = [{"role": "user", "content": "hi sdk"}]


@pytest.fixture(scope="module")
def bedrock() -> Iterator[tuple[ServerThread, Starlette]]:
    app = bedrock_app(access_key_id=AWS_ID, secret_access_key=AWS_SECRET)
    with serve(app) as server:
        yield server, app


@pytest.fixture(scope="module")
def vertex() -> Iterator[tuple[ServerThread, str]]:
    app = vertex_app(service_account_email=ACCOUNT["client_email"], public_key_pem=PUBLIC_PEM)
    with serve(app, PORT) as server:
        from keyhouse.providers.vertex import make_assertion

        grant = {
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": make_assertion(ACCOUNT),
        }
        token = httpx.post(f"{server.url}/token", data=grant).json()["access_token"]
        yield server, token


def _bedrock_client(server: ServerThread, secret: str = AWS_SECRET) -> anthropic.AnthropicBedrock:
    return anthropic.AnthropicBedrock(
        aws_access_key=AWS_ID,
        aws_secret_key=secret,
        aws_region="us-east-1",
        base_url=server.url,
        max_retries=0,
    )


def _vertex_client(server: ServerThread, token: str) -> anthropic.AnthropicVertex:
    return anthropic.AnthropicVertex(
        region="us-east5",
        project_id="keyhouse-test",
        access_token=token,
        base_url=f"{server.url}/v1",
        max_retries=0,
    )


def test_bedrock_sdk_messages_stream_and_tools(bedrock: tuple[ServerThread, Starlette]) -> None:
    server, app = bedrock
    client = _bedrock_client(server)
    reply = client.messages.create(
        model=MODEL,
        max_tokens=64,
        messages=HI,
        extra_body=BEDROCK_VERSION,
        extra_headers={"anthropic-beta": "context-1m-2025-08-07"},
    )
    assert reply.content[0].text == "echo: hi sdk"  # type: ignore[union-attr]
    assert reply.usage.cache_creation_input_tokens == 0
    seen = app.state.calls[-1]
    assert seen.json["anthropic_beta"] == ["context-1m-2025-08-07"] and "model" not in seen.json
    with client.messages.stream(
        model=MODEL, max_tokens=64, messages=HI, extra_body=BEDROCK_VERSION
    ) as stream:
        assert stream.get_final_text() == "echo: hi sdk"
    # The stream is event-stream framing with CRCs; botocore's decoder (in the SDK) read it.
    assert app.state.calls[-1].path.endswith("/invoke-with-response-stream")
    tool: Any = {"name": "lookup", "input_schema": {"type": "object"}}
    used = client.messages.create(
        model=MODEL, max_tokens=64, messages=HI, tools=[tool], extra_body=BEDROCK_VERSION
    )
    assert used.content[0].type == "tool_use" and used.content[0].input == {"q": "hi sdk"}


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({}, "anthropic_version: Input should be 'bedrock-2023-05-31'"),  # the SDK's own
        ({**BEDROCK_VERSION, "temprature": 1}, "temprature: Extra inputs are not permitted"),
    ],
)
def test_bedrock_refuses_what_bedrock_refuses(
    bedrock: tuple[ServerThread, Starlette], extra: dict[str, Any], says: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as refused:
        _bedrock_client(bedrock[0]).messages.create(
            model=MODEL, max_tokens=64, messages=HI, extra_body=extra
        )
    assert says in str(refused.value)


def test_bedrock_checks_the_signature_and_counts_for_models_only(
    bedrock: tuple[ServerThread, Starlette],
) -> None:
    server, _ = bedrock
    with pytest.raises(anthropic.PermissionDeniedError):
        _bedrock_client(server, "wrong-" + "w" * 30).messages.create(
            model=MODEL, max_tokens=8, messages=HI, extra_body=BEDROCK_VERSION
        )
    client = httpx.Client(base_url=server.url)
    inner = {**BEDROCK_VERSION, "max_tokens": 1, "messages": HI}
    body = {
        "input": {"invokeModel": {"body": base64.b64encode(json.dumps(inner).encode()).decode()}}
    }
    unsigned = client.post(f"/model/{MODEL}/count-tokens", json=body)
    assert unsigned.status_code == 403  # SigV4 is checked on CountTokens too


def test_vertex_sdk_messages_stream_and_count(vertex: tuple[ServerThread, str]) -> None:
    server, token = vertex
    client = _vertex_client(server, token)
    model = "claude-sonnet-4-5@20250929"
    reply = client.messages.create(
        model=model, max_tokens=64, messages=HI, extra_body=VERTEX_VERSION
    )
    assert reply.content[0].text == "echo: hi sdk"  # type: ignore[union-attr]
    with client.messages.stream(
        model=model, max_tokens=64, messages=HI, extra_body=VERTEX_VERSION
    ) as stream:
        assert stream.get_final_text() == "echo: hi sdk"
    counted = client.messages.count_tokens(model=model, messages=HI, extra_body=VERTEX_VERSION)
    assert counted.input_tokens == 2
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.create(model=model, max_tokens=64, messages=HI)  # the SDK's version
    assert "anthropic_version" in str(refused.value)
    with pytest.raises(anthropic.AuthenticationError):
        _vertex_client(server, "ya29.not-issued").messages.create(
            model=model, max_tokens=8, messages=HI, extra_body=VERTEX_VERSION
        )
