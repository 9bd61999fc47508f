"""``/v1/messages`` is lossless for Claude on Bedrock and on Vertex AI: the body reaches
the platform as the ``anthropic`` SDK's own Bedrock and Vertex clients would send it
(InvokeModel with ``anthropic_version: "bedrock-2023-05-31"`` and the betas in the body;
rawPredict with ``anthropic_version: "vertex-2023-10-16"``) — thinking, ``cache_control``,
``top_k`` and server tools exactly as the caller sent them — and the answer comes back
untouched but for the model name. Streams, tool round trips, upstream errors in
Anthropic's envelope, count_tokens, and the translated path for the platforms' other
models. The fakes verify SigV4 and the OAuth bearer token as the platforms do."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx
import pytest
from starlette.applications import Starlette

from keyhouse.testing.fakes.bedrock import create_app as bedrock_fake
from keyhouse.testing.fakes.gemini import make_service_account
from keyhouse.testing.fakes.server import ServerThread, free_port, serve
from keyhouse.testing.fakes.vertex_claude import create_app as vertex_fake
from tests.api.gateway_world import (
    anthropic_client,
    calls,
    chat,
    key,
    last_call,
    openai_client,
    serve_gateway,
)
from tests.api.messages_bodies import (
    SYSTEM,
    THINKING,
    TOOLS,
    cached_turn,
    server_tools_turn,
    with_tool_result,
)

TOKEN = "kh_at_anthropic_platforms"
AWS_ID, AWS_SECRET = "AKIDPLATFORMTEST0001", "bedrock-platform-" + "p" * 24
BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
VERTEX_MODEL = "claude-sonnet-4-5@20250929"
PORT = free_port()
ACCOUNT, PUBLIC_PEM = make_service_account(f"http://127.0.0.1:{PORT}/token")
PLATFORMS = ["bedrock", "vertex"]
BETA = "interleaved-thinking-2025-05-14"


@dataclass
class World:
    gateway: ServerThread
    bedrock: Starlette
    vertex: Starlette

    def fake(self, platform: str) -> Starlette:
        return self.bedrock if platform == "bedrock" else self.vertex


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    bedrock_app = bedrock_fake(access_key_id=AWS_ID, secret_access_key=AWS_SECRET)
    vertex_app = vertex_fake(
        service_account_email=ACCOUNT["client_email"], public_key_pem=PUBLIC_PEM
    )
    with serve(bedrock_app) as bedrock, serve(vertex_app, PORT) as vertex:
        aws = {"aws_access_key_id": AWS_ID, "aws_secret_access_key": AWS_SECRET}
        credentials = [
            key("k-aws", "bedrock", aws, "access_keys", region="us-east-1", base_url=bedrock.url),
            key(
                "k-aws-wrong",
                "bedrock",
                {**aws, "aws_secret_access_key": "not-the-secret-" + "w" * 20},
                "access_keys",
                region="us-east-1",
                base_url=bedrock.url,
            ),
            key(
                "k-gcp",
                "vertex_ai",
                {"service_account_json": json.dumps(ACCOUNT)},
                "service_account",
                project_id="keyhouse-test",
                location="us-east5",
                base_url=vertex.url,
            ),
        ]
        endpoints = [
            chat("bedrock", "k-aws", "bedrock", BEDROCK_MODEL),
            chat("vertex", "k-gcp", "vertex_ai", VERTEX_MODEL),
            chat("bedrock-busy", "k-aws", "bedrock", "anthropic.claude-fail-429", max_retries=0),
            chat("vertex-busy", "k-gcp", "vertex_ai", "claude-fail-429", max_retries=0),
            chat("bedrock-cut", "k-aws", "bedrock", "anthropic.claude-x-fail-midstream"),
            chat("vertex-cut", "k-gcp", "vertex_ai", "claude-x-fail-midstream"),
            chat("bedrock-wrong", "k-aws-wrong", "bedrock", BEDROCK_MODEL, max_retries=0),
            chat("bedrock-nova", "k-aws", "bedrock", "amazon.nova-lite-v1:0"),
            chat("vertex-gemini", "k-gcp", "vertex_ai", "gemini-2.5-flash"),
        ]
        with serve_gateway(endpoints, credentials, TOKEN) as gateway:
            yield World(gateway, bedrock_app, vertex_app)


def _client(world: World) -> anthropic.Anthropic:
    return anthropic_client(world.gateway, TOKEN)


_body = cached_turn


def _as_platform_sends_it(platform: str, sent: dict[str, Any], betas: list[str]) -> Any:
    """What the platform must receive for ``sent``: the SDK's Bedrock/Vertex shape."""
    body = {k: v for k, v in sent.items() if k not in ("model", "stream")}
    if platform == "bedrock":
        body["anthropic_version"] = "bedrock-2023-05-31"
        if betas:
            body["anthropic_beta"] = betas
    else:
        body["anthropic_version"] = "vertex-2023-10-16"
        if sent.get("stream"):
            body["stream"] = True
    return body


def _path(platform: str, stream: bool = False) -> str:
    if platform == "bedrock":
        operation = "invoke-with-response-stream" if stream else "invoke"
        return f"/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/{operation}"
    method = "streamRawPredict" if stream else "rawPredict"
    return (
        "/v1/projects/keyhouse-test/locations/us-east5/publishers/anthropic/models/"
        f"{VERTEX_MODEL}:{method}"
    )


def _credential_was_checked(platform: str, headers: dict[str, str]) -> None:
    if platform == "bedrock":
        assert headers["authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={AWS_ID}/")
        assert "anthropic-beta" not in headers  # Bedrock takes the betas in the body
    else:
        assert headers["authorization"].startswith("Bearer ya29.fake-")
        assert headers["anthropic-beta"] == BETA


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_body_and_betas_arrive_as_sent(world: World, platform: str) -> None:
    sent = _body(platform, "what is a keyhouse", metadata={"user_id": "u-1"})
    reply = _client(world).messages.create(**sent, extra_headers={"anthropic-beta": BETA})
    seen = last_call(world.fake(platform), "anthropic")
    assert seen.path == _path(platform)
    assert seen.json == _as_platform_sends_it(platform, sent, [BETA])
    _credential_was_checked(platform, seen.headers)
    assert reply.model == platform
    assert [b.type for b in reply.content] == ["thinking", "tool_use"]
    assert reply.content[0].signature  # type: ignore[union-attr]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_prompt_cache_reads_and_writes_come_back(world: World, platform: str) -> None:
    client = _client(world)
    first = client.messages.create(**_body(platform, "cache me please")).usage
    again = client.messages.create(**_body(platform, "cache me please")).usage
    assert first.cache_creation_input_tokens == 3  # "cache me please" (the system: earlier)
    assert again.cache_creation_input_tokens == 0
    assert again.cache_read_input_tokens == (first.cache_read_input_tokens or 0) + 3
    assert again.input_tokens == 0


@pytest.mark.parametrize("platform", PLATFORMS)
def test_tool_use_round_trip_with_a_signed_thinking_block(world: World, platform: str) -> None:
    client = _client(world)
    first = client.messages.create(**_body(platform, "look up keys"))
    tool_use = next(b for b in first.content if b.type == "tool_use")
    assert tool_use.input == {"q": "look up keys"}
    turn = _body(platform, "look up keys")
    history = with_tool_result(turn, first.content, tool_use.id, "a vault")
    follow = client.messages.create(**{**_body(platform, "x"), "messages": history})
    assert [b.type for b in follow.content] == ["thinking", "text"]
    assert follow.content[1].text == "tool said: a vault"  # type: ignore[union-attr]
    # The platform verified the thinking signature it made: the block came back intact.
    assert last_call(world.fake(platform), "anthropic").json["messages"] == history


@pytest.mark.parametrize("platform", PLATFORMS)
def test_stream_is_passed_through(world: World, platform: str) -> None:
    sent = {**_body(platform, "stream it"), "tools": []}
    with _client(world).messages.stream(**sent, extra_headers={"anthropic-beta": BETA}) as s:
        kinds = [e.type for e in s]
        final = s.get_final_message()
    assert kinds[0] == "message_start" and "content_block_delta" in kinds
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[1].text == "echo: stream it"  # type: ignore[union-attr]
    assert final.model == platform
    # Without tools the prefix is new: the system (9 words) and "stream it" are written.
    assert final.usage.cache_creation_input_tokens == 11
    seen = last_call(world.fake(platform), "anthropic")
    assert seen.path == _path(platform, stream=True)
    assert seen.json == _as_platform_sends_it(platform, {**sent, "stream": True}, [BETA])
    _credential_was_checked(platform, seen.headers)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_top_k_documents_and_server_tools_pass_through(world: World, platform: str) -> None:
    sent = server_tools_turn(platform)
    # This SDK has no top_k argument any more; the API still takes it.
    reply = _client(world).messages.create(
        **{k: v for k, v in sent.items() if k != "top_k"}, extra_body={"top_k": 5}
    )
    seen = last_call(world.fake(platform), "anthropic").json
    assert seen == _as_platform_sends_it(platform, sent, [])
    assert reply.content[0].text == "echo: summarise"  # type: ignore[union-attr]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_upstream_errors_come_back_in_anthropic_s_envelope(world: World, platform: str) -> None:
    client = _client(world)
    # The platform refuses the body (thinking's budget must stay below max_tokens).
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.create(**_body(platform, "x", max_tokens=1024))
    body: Any = refused.value.body
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert "budget_tokens" in body["error"]["message"]
    with pytest.raises(anthropic.RateLimitError) as busy:
        client.messages.create(**_body(f"{platform}-busy", "x"))
    assert busy.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
    # A failure after the stream began ends it with Anthropic's error event.
    with (
        pytest.raises(anthropic.APIStatusError),
        client.messages.stream(**{**_body(f"{platform}-cut", "a b c"), "thinking": None}) as s,
    ):
        for _ in s:
            pass


def test_a_wrong_aws_secret_is_refused_and_never_echoed(world: World) -> None:
    with pytest.raises(anthropic.APIStatusError) as refused:
        _client(world).messages.create(**_body("bedrock-wrong", "x"))
    assert refused.value.status_code in (401, 403)
    assert refused.value.body["type"] == "error"  # type: ignore[index]
    assert "not-the-secret" not in json.dumps(refused.value.body)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_passed_through_answer_never_shows_the_key(world: World, platform: str) -> None:
    """A hostile upstream echoes the AWS secret, or the OAuth token it was sent."""
    client = _client(world)
    client.messages.create(
        model=platform, max_tokens=8, messages=[{"role": "user", "content": "a"}]
    )
    secret = AWS_SECRET if platform == "bedrock" else next(iter(world.vertex.state.tokens))
    asked: Any = {
        "model": platform,
        "max_tokens": 64,
        "messages": [{"role": "user", "content": f"say {secret}"}],
    }
    reply = client.messages.create(**asked).content[0]
    assert reply.type == "text" and reply.text == "echo: say [REDACTED]"
    with client.messages.stream(**asked) as stream:
        block = stream.get_final_message().content[0]
        assert block.type == "text" and block.text == "echo: say [REDACTED]"
    from tests.conftest import LOG_SINK

    # Nor does any server-side log line, at any level (the test's own SDK client logs the
    # prompt it sent, which holds the secret on purpose).
    client_side = ("anthropic.", "httpx", "httpcore")
    leaked = [
        line
        for line in LOG_SINK.lines
        if not line.startswith(client_side) and (secret in line or secret[-12:] in line)
    ]
    assert not leaked


@pytest.mark.parametrize("platform", PLATFORMS)
def test_count_tokens_is_the_platform_s_own(world: World, platform: str) -> None:
    body: Any = {
        "model": platform,
        "system": SYSTEM,
        "tools": TOOLS,
        "thinking": THINKING,
        "messages": [{"role": "user", "content": "count these five words"}],
    }
    with httpx.Client(base_url=world.gateway.url, timeout=20, headers={"x-api-key": TOKEN}) as h:
        counted = h.post("/v1/messages/count_tokens", json=body)
        refused = h.post("/v1/messages/count_tokens", json={**body, "top_k": 3})
    assert counted.status_code == 200, counted.text
    assert counted.headers["x-keyhouse-token-count"] == "native"
    assert counted.json() == {"input_tokens": 9 + 4}  # the fakes count words
    assert refused.status_code == 400 and refused.json()["type"] == "error"
    fake = world.fake(platform)
    if platform == "bedrock":
        # CountTokens takes the foundation model, not the inference profile.
        seen = last_call(fake, "count-tokens")
        assert seen.path == "/model/anthropic.claude-sonnet-4-5-20250929-v1%3A0/count-tokens"
        inner = json.loads(base64.b64decode(seen.json["input"]["invokeModel"]["body"]))
        assert inner["anthropic_version"] == "bedrock-2023-05-31"
        assert inner["thinking"] == THINKING and inner["system"] == SYSTEM
    else:
        seen = last_call(fake, "count-tokens:rawPredict")
        assert seen.json["model"] == VERTEX_MODEL
        assert seen.json["anthropic_version"] == "vertex-2023-10-16"
    sdk = _client(world).messages.count_tokens(
        model=platform, messages=[{"role": "user", "content": "two words"}]
    )
    assert sdk.input_tokens == 2


@pytest.mark.parametrize(
    ("name", "part"), [("bedrock-nova", "/converse"), ("vertex-gemini", ":generateContent")]
)
def test_the_platforms_other_models_are_translated(world: World, name: str, part: str) -> None:
    fake = world.bedrock if name.startswith("bedrock") else world.vertex
    before = len(calls(fake, part))
    reply = _client(world).messages.create(
        model=name, max_tokens=64, messages=[{"role": "user", "content": "hi there"}]
    )
    assert reply.content[0].text == "echo: hi there"  # type: ignore[union-attr]
    assert len(calls(fake, part)) == before + 1


@pytest.mark.parametrize("platform", PLATFORMS)
def test_chat_completions_and_responses_on_claude_reach_claude_s_own_route(
    world: World, platform: str
) -> None:
    """The OpenAI-shaped APIs on a platform's Claude: Bedrock's Converse serves Claude,
    Vertex serves it only through Anthropic's rawPredict (Google's generateContent path
    answers 404 for a Claude model), so each call must land on a route that serves it."""
    fake = world.fake(platform)
    route = "/converse" if platform == "bedrock" else "publishers/anthropic/models/"
    client = openai_client(world.gateway, TOKEN)
    before = len(calls(fake, route))
    said: list[Any] = [{"role": "user", "content": "hi there"}]
    reply = client.chat.completions.create(model=platform, messages=said, max_tokens=64)
    assert reply.choices[0].message.content == "echo: hi there"
    assert reply.usage is not None and reply.usage.prompt_tokens > 0
    stream = client.chat.completions.create(
        model=platform, messages=said, max_tokens=64, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)  # type: ignore[union-attr]
    assert text == "echo: hi there"
    answer = client.responses.create(model=platform, input="hi there", max_output_tokens=64)
    assert answer.output_text == "echo: hi there"
    assert len(calls(fake, route)) == before + 3
    assert not calls(fake, "publishers/google/models/claude")
