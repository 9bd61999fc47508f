"""Claude Code (``claude -p``) through Keyhouse, on an Anthropic endpoint and on an
OpenAI-compatible one. The fake answers Claude Code's first turn with a call of its first
tool; Claude Code runs it (it fails: the fake's arguments do not fit) and sends the
result back; the fake's answer to that is the text Claude Code prints. On the Anthropic
endpoint, every request reaches the provider exactly as Claude Code sent it —
``cache_control`` markers, ``thinking`` (with the signed thinking blocks of the earlier
turn), betas — but for the model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from keyhouse.testing.fakes import anthropic_model as anthropic_fake
from keyhouse.testing.fakes import openai_model
from tests.agents.conftest import Stack, agent_env, claude_binary, run


def _env(stack: Stack, endpoint: str, tmp: Path) -> dict[str, str]:
    return agent_env(
        tmp / "home",
        CLAUDE_CONFIG_DIR=str(tmp / "config"),
        ANTHROPIC_BASE_URL=stack.proxy_url,
        ANTHROPIC_API_KEY=stack.token,
        ANTHROPIC_MODEL=endpoint,
        ANTHROPIC_DEFAULT_HAIKU_MODEL=endpoint,
        ANTHROPIC_DEFAULT_SONNET_MODEL=endpoint,
        ANTHROPIC_DEFAULT_OPUS_MODEL=endpoint,
        CLAUDE_CODE_SUBAGENT_MODEL=endpoint,
        # No telemetry, error reports, update checks or other traffic beyond the API.
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_TELEMETRY="1",
        DISABLE_ERROR_REPORTING="1",
        DISABLE_AUTOUPDATER="1",
        DISABLE_BUG_COMMAND="1",
    )


def _cache_markers(body: Any) -> int:
    return json.dumps(body).count('"cache_control"')


def _claude(stack: Stack, endpoint: str, tmp: Path) -> tuple[str, list[Any]]:
    sent_before = len(stack.proxy.state.calls)
    result = run(
        [str(claude_binary()), "-p", "Say hello to Keyhouse", "--model", endpoint],
        _env(stack, endpoint, tmp),
        tmp / "work",
    )
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-2000:])
    sent = [c for c in stack.proxy.state.calls[sent_before:] if c.path == "/v1/messages"]
    assert sent, "Claude Code sent no Messages request"
    return result.stdout, sent


def test_on_an_anthropic_endpoint_the_request_arrives_as_sent(stack: Stack, tmp_path: Path) -> None:
    before = len(stack.claude.state.calls)
    # By the alias: Claude Code's own model name reaches the endpoint.
    stdout, sent = _claude(stack, "claude-sonnet-4-5", tmp_path)
    received = [c for c in stack.claude.state.calls[before:] if c.path == "/v1/messages"]
    assert len(received) == len(sent)
    model = stack.endpoints["agents-anthropic"]
    for asked in sent:
        body = json.loads(asked.body)
        assert body["model"] == "claude-sonnet-4-5"
        matches = [r for r in received if r.json == {**body, "model": model}]
        assert matches, "a request did not reach the provider exactly as Claude Code sent it"
        assert matches[0].headers.get("anthropic-beta") == asked.headers.get("anthropic-beta")
    # What Claude Code relies on was there and went through.
    assert all(_cache_markers(r.json) > 0 for r in received)
    assert all(r.json["thinking"]["type"] in ("enabled", "adaptive") for r in received)
    assert any(
        b.get("type") == "thinking"
        for r in received
        for m in r.json["messages"]
        if m["role"] == "assistant"
        for b in m["content"]
    ), "the signed thinking block of the tool-use turn was not sent back"
    assert "anthropic-beta" in received[0].headers
    final = received[-1].json
    blocks = anthropic_fake.answer(final)[0]
    expected = "".join(b["text"] for b in blocks if b["type"] == "text")
    assert expected.startswith("tool said: ")
    assert stdout.strip() == expected.strip()


def test_on_an_openai_compatible_endpoint(stack: Stack, tmp_path: Path) -> None:
    before = len(stack.gpt.state.calls)
    stdout, _ = _claude(stack, "agents-compatible", tmp_path)
    received = [c for c in stack.gpt.state.calls[before:] if c.path == "/v1/chat/completions"]
    assert received and all(r.json["model"] == "my-model" for r in received)
    text, call, *_ = openai_model.answer(received[-1].json)
    assert call is None and text.startswith("tool said: ")
    assert stdout.strip() == text.strip()
