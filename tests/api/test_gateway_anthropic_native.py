"""``/v1/messages`` is lossless on an Anthropic target: the body reaches the provider as
the caller sent it (thinking, cache_control, top_k, server tools, documents), with the
caller's anthropic-beta header, and the answer comes back untouched but for the model
name — thinking signatures verify on the next turn, prompt-cache usage is reported. A
cross-family target is translated. ``count_tokens`` is native or a labelled estimate."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx
import pytest
from starlette.applications import Starlette

from keyhouse.testing.fakes.anthropic import create_app as anthropic_fake
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import ServerThread, serve
from tests.api.conftest import CheckedClient
from tests.api.gateway_world import anthropic_client, api_key, chat, serve_gateway
from tests.api.messages_bodies import (
    SYSTEM,
    THINKING,
    TOOLS,
    cached_turn,
    server_tools_turn,
    with_tool_result,
)

TOKEN = "kh_at_anthropic_native_tests"
ANTHROPIC_KEY = "sk-ant-api03-" + "n" * 40
OPENAI_KEY = "sk-native-" + "o" * 30


@dataclass
class World:
    gateway: ServerThread
    claude: Starlette
    gpt: Starlette


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    claude_app, gpt_app = anthropic_fake(api_key=ANTHROPIC_KEY), openai_fake(api_key=OPENAI_KEY)
    with serve(claude_app) as claude, serve(gpt_app) as gpt:
        endpoints = [
            chat("claude", "k-ant", "anthropic", "claude-sonnet-4-5"),
            chat("gpt", "k-oai", "openai", "gpt-4o-mini"),
        ]
        credentials = [
            api_key("k-ant", "anthropic", ANTHROPIC_KEY, claude.url),
            api_key("k-oai", "openai", OPENAI_KEY, f"{gpt.url}/v1"),
        ]
        with serve_gateway(endpoints, credentials, TOKEN) as server:
            yield World(server, claude_app, gpt_app)


def _client(world: World) -> anthropic.Anthropic:
    return anthropic_client(world.gateway, TOKEN)


def _last_body(app: Starlette, path: str = "/v1/messages") -> Any:
    return [c for c in app.state.calls if c.path == path][-1]


def _body(text: str, **extra: Any) -> dict[str, Any]:
    return cached_turn("claude", text, **extra)


def test_the_body_and_beta_header_arrive_as_sent(world: World) -> None:
    sent = _body("what is a keyhouse", metadata={"user_id": "u-1"})
    reply = _client(world).messages.create(
        **sent, extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14"}
    )
    seen = _last_body(world.claude)
    assert seen.json == {**sent, "model": "claude-sonnet-4-5"}
    assert seen.headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert seen.headers["x-api-key"] == ANTHROPIC_KEY
    assert reply.model == "claude"
    kinds = [b.type for b in reply.content]
    assert kinds == ["thinking", "tool_use"]
    assert reply.content[0].signature  # type: ignore[union-attr]


def test_prompt_cache_usage_comes_back(world: World) -> None:
    client = _client(world)
    first = client.messages.create(**_body("cache me please")).usage
    again = client.messages.create(**_body("cache me please")).usage
    # The system prompt may be cached already by an earlier test; the new turn is not.
    assert first.cache_creation_input_tokens == 3  # "cache me please"
    assert again.cache_creation_input_tokens == 0
    assert again.cache_read_input_tokens == (first.cache_read_input_tokens or 0) + 3
    assert again.input_tokens == 0


def test_thinking_signature_round_trip_with_a_tool_result(world: World) -> None:
    client = _client(world)
    first = client.messages.create(**_body("look up keys"))
    tool_use = next(b for b in first.content if b.type == "tool_use")
    history = with_tool_result(_body("look up keys"), first.content, tool_use.id, "a vault")
    follow = client.messages.create(**{**_body("x"), "messages": history})
    assert [b.type for b in follow.content] == ["thinking", "text"]
    assert follow.content[1].text == "tool said: a vault"  # type: ignore[union-attr]
    # A tampered thinking block is refused by the provider, as the real API does.
    history[1]["content"][0]["thinking"] += " (edited)"
    with pytest.raises(anthropic.BadRequestError) as refused:
        client.messages.create(**{**_body("x"), "messages": history})
    assert "signature" in str(refused.value)


def test_omitted_thinking_comes_back_empty_and_still_verifies(world: World) -> None:
    client = _client(world)
    hidden = {**THINKING, "display": "omitted"}
    first = client.messages.create(**{**_body("look up keys"), "thinking": hidden})
    thinking = first.content[0]
    assert thinking.type == "thinking" and thinking.thinking == ""
    tool_use = first.content[1]
    assert tool_use.type == "tool_use"
    history = with_tool_result(_body("look up keys"), first.content, tool_use.id, "a vault")
    follow = client.messages.create(**{**_body("x"), "thinking": hidden, "messages": history})
    assert follow.content[-1].text == "tool said: a vault"  # type: ignore[union-attr]


def test_stream_is_passed_through(world: World) -> None:
    with _client(world).messages.stream(**{**_body("stream it"), "tools": []}) as stream:
        kinds = [e.type for e in stream]
        final = stream.get_final_message()
    assert "thinking" in kinds or any(b.type == "thinking" for b in final.content)
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[1].text == "echo: stream it"  # type: ignore[union-attr]
    assert final.model == "claude"
    assert final.usage.cache_creation_input_tokens is not None
    assert _last_body(world.claude).json["thinking"] == THINKING


def test_top_k_and_server_tools_pass_through(world: World) -> None:
    sent = server_tools_turn("claude")
    # This SDK no longer has a top_k argument; the API still takes it.
    reply = _client(world).messages.create(
        **{k: v for k, v in sent.items() if k != "top_k"}, extra_body={"top_k": 5}
    )
    assert _last_body(world.claude).json == {**sent, "model": "claude-sonnet-4-5"}
    assert reply.content[0].text == "echo: summarise"  # type: ignore[union-attr]


def test_the_fake_is_strict_about_thinking_and_cache_control(world: World) -> None:
    client = _client(world)
    bad: list[dict[str, Any]] = [
        {**_body("x"), "thinking": {"type": "enabled", "budget_tokens": 100}},
        {**_body("x"), "max_tokens": 1024},
        {
            **_body("x"),
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "text",
                            "text": f"part {i}",
                            "cache_control": {"type": "ephemeral"},
                        }
                        for i in range(3)
                    ],
                }
            ],
        },
        {
            **_body("x"),
            "system": [{"type": "text", "text": "s", "cache_control": {"type": "persistent"}}],
        },
    ]
    # This SDK no longer has temperature or top_k arguments; the API still takes them.
    bad += [
        {**_body("x"), "extra_body": {"top_k": 3}},
        {**_body("x"), "extra_body": {"temperature": 0.5}},
        {**_body("x"), "cache_control": {"type": "ephemeral", "ttl": "2h"}},
    ]
    for body in bad:
        with pytest.raises(anthropic.BadRequestError) as refused:
            client.messages.create(**body)
        # Anthropic's envelope, with the provider's own message.
        assert refused.value.body["type"] == "error"  # type: ignore[index]
        assert refused.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]


def test_a_cross_family_target_is_translated(world: World) -> None:
    reply = _client(world).messages.create(
        model="gpt",
        max_tokens=64,
        system=SYSTEM,
        thinking=THINKING,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hi there", "cache_control": {"type": "ephemeral"}}
                ],
            }
        ],
    )
    seen = _last_body(world.gpt, "/v1/chat/completions").json
    assert seen["messages"][-1] == {"role": "user", "content": "hi there"}
    assert "thinking" not in seen
    assert reply.content[0].text == "echo: hi there"  # type: ignore[union-attr]


def test_count_tokens_native_and_estimated(world: World) -> None:
    body: Any = {
        "system": SYSTEM,
        "tools": TOOLS,
        "messages": [{"role": "user", "content": "count these five words"}],
    }
    with httpx.Client(
        base_url=world.gateway.url,
        timeout=20,
        headers={"x-api-key": TOKEN, "anthropic-version": "2023-06-01"},
    ) as h:
        native = h.post("/v1/messages/count_tokens", json={**body, "model": "claude"})
        estimate = h.post("/v1/messages/count_tokens", json={**body, "model": "gpt"})
        missing = h.post("/v1/messages/count_tokens", json={**body, "model": "nope"})
        refused = h.post(
            "/v1/messages/count_tokens", json={**body, "model": "claude", "max_tokens": 5}
        )
    assert native.status_code == 200 and native.headers["x-keyhouse-token-count"] == "native"
    assert native.json() == {"input_tokens": 9 + 4}  # the fake counts words: system, message
    assert (
        _last_body(world.claude, "/v1/messages/count_tokens").json["model"] == "claude-sonnet-4-5"
    )
    assert estimate.status_code == 200
    assert estimate.headers["x-keyhouse-token-count"] == "estimate"
    assert estimate.json()["input_tokens"] > 10
    for response, status in ((missing, 404), (refused, 400)):
        assert response.status_code == status
        envelope = response.json()
        assert envelope["type"] == "error" and set(envelope["error"]) == {"type", "message"}
    sdk = _client(world).messages.count_tokens(
        model="claude", messages=[{"role": "user", "content": "two words"}]
    )
    assert sdk.input_tokens == 2
    assert json.loads(json.dumps(estimate.json())) == estimate.json()


def test_every_messages_error_is_in_anthropic_s_envelope(world: World) -> None:
    """/v1/messages and /v1/messages/count_tokens answer every error the way the
    anthropic SDK parses: ``{"type": "error", "error": {"type", "message"}}``."""
    base = world.gateway.url
    good = {"x-api-key": TOKEN, "content-type": "application/json"}
    body: Any = {
        "model": "claude",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "hi"}],
    }
    with httpx.Client(base_url=base, timeout=20) as h:
        for path in ("/v1/messages", "/v1/messages/count_tokens"):
            cases = [
                (h.post(path, json=body), 401),
                (h.post(path, json=body, headers={"x-api-key": "kh_wrong"}), 401),
                (h.post(path, content=b"{not json", headers=good), 400),
                (h.post(path, json={**body, "model": "nope"}, headers=good), 404),
                (
                    h.post(
                        path,
                        json={**body, "messages": [{"role": "system", "content": "x"}]},
                        headers=good,
                    ),
                    400,
                ),
                (h.post(path, content=b"x" * (11 * 1024 * 1024), headers=good), 413),
                (h.get(path, headers=good), 405),
            ]
            for response, status in cases:
                assert response.status_code == status, (path, status, response.text)
                envelope = response.json()
                assert envelope["type"] == "error", (path, status, envelope)
                assert set(envelope["error"]) == {"type", "message"}, envelope
                assert envelope["error"]["message"]
        missing = h.post("/v1/messages/nothing-here", json=body, headers=good)
        assert missing.status_code in (404, 405) and missing.json()["type"] == "error"


def test_the_full_app_s_body_limit_answers_in_each_api_s_envelope(client: CheckedClient) -> None:
    big = b"{" + b" " * (11 * 1024 * 1024) + b"}"
    anthropic_413 = client.post("/v1/messages/count_tokens", content=big)
    assert anthropic_413.status_code == 413
    assert anthropic_413.json()["error"]["type"] == "request_too_large"
    openai_413 = client.post("/v1/responses", content=big)
    assert openai_413.status_code == 413
    assert openai_413.json()["error"]["code"] == "payload_too_large"
    # A GET of a POST route (the web UI's static files may answer it 404 first).
    wrong_method = client.get("/v1/messages")
    assert wrong_method.status_code in (404, 405) and wrong_method.json()["type"] == "error"
    assert set(client.get("/v1/responses").json()["error"]) == {"message", "type", "param", "code"}


def test_a_passed_through_message_never_shows_the_key(world: World) -> None:
    client = _client(world)
    asked: Any = {
        "model": "claude",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": f"say {ANTHROPIC_KEY}"}],
    }
    first = client.messages.create(**asked).content[0]
    assert first.type == "text" and first.text == "echo: say [REDACTED]"
    with client.messages.stream(**asked) as stream:
        block = stream.get_final_message().content[0]
        assert block.type == "text" and block.text == "echo: say [REDACTED]"
