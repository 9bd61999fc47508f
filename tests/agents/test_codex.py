"""Codex CLI (``codex exec``) through Keyhouse as a custom model provider with
``wire_api = "responses"``: on an OpenAI-compatible endpoint and an Anthropic one (both
translated from the Responses API to the provider's chat API) and on an OpenAI one
(passed through). The fake answers Codex's first turn with a call of its first tool;
Codex runs it (the fake's arguments do not fit, so it reports the error) and sends the
output back; the fake's answer to that is Codex's last message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keyhouse.testing.fakes import anthropic_model as anthropic_fake
from keyhouse.testing.fakes import openai_model, openai_responses
from tests.agents.conftest import Stack, agent_env, codex_binary, run

CONFIG = """\
model_provider = "keyhouse"
check_for_update_on_startup = false

[model_providers.keyhouse]
name = "Keyhouse"
base_url = "{url}/v1"
env_key = "KEYHOUSE_API_KEY"
wire_api = "responses"

[analytics]
enabled = false

[otel]
exporter = "none"
"""


def _codex(stack: Stack, endpoint: str, tmp: Path) -> str:
    home = tmp / "codex-home"
    home.mkdir(parents=True)
    (home / "config.toml").write_text(CONFIG.format(url=stack.url))
    last = tmp / "last-message.txt"
    env = agent_env(tmp / "home", CODEX_HOME=str(home), KEYHOUSE_API_KEY=stack.token)
    result = run(
        [
            str(codex_binary()),
            "exec",
            "--skip-git-repo-check",
            "-m",
            endpoint,
            "-o",
            str(last),
            "Say hello to Keyhouse",
        ],
        env,
        tmp / "work",
    )
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-2000:])
    return last.read_text()


def _calls(app: Any, path: str, before: int) -> list[Any]:
    return [c for c in app.state.calls[before:] if c.path == path]


# gpt-5-codex is an alias of agents-compatible, and a model Codex knows: it shapes its
# request for it (tools, reasoning) as it would for OpenAI.
@pytest.mark.parametrize("endpoint", ["agents-compatible", "gpt-5-codex", "agents-openai"])
def test_on_openai_endpoints(stack: Stack, tmp_path: Path, endpoint: str) -> None:
    before = len(stack.gpt.state.calls)
    answer = _codex(stack, endpoint, tmp_path)
    if endpoint == "agents-openai":
        received = _calls(stack.gpt, "/v1/responses", before)
        assert received and all(r.json["model"] == "gpt-4o-mini" for r in received)
        assert all(r.json["stream"] is True for r in received)
        expected = openai_responses.complete(received[-1].json, {})
        text = "".join(p["text"] for p in expected["output"][0]["content"])
    else:
        received = _calls(stack.gpt, "/v1/chat/completions", before)
        assert received and all(r.json["model"] == "my-model" for r in received)
        text, call, *_ = openai_model.answer(received[-1].json)
        assert call is None
    assert len(received) == 2  # the tool call, then the answer to its output
    assert text.startswith("tool said: ")
    assert answer.strip() == text.strip()


def test_on_an_anthropic_endpoint(stack: Stack, tmp_path: Path) -> None:
    before = len(stack.claude.state.calls)
    answer = _codex(stack, "agents-anthropic", tmp_path)
    received = _calls(stack.claude, "/v1/messages", before)
    assert len(received) == 2
    assert all(r.json["model"] == stack.endpoints["agents-anthropic"] for r in received)
    blocks = anthropic_fake.answer(received[-1].json)[0]
    text = "".join(b["text"] for b in blocks if b["type"] == "text")
    assert text.startswith("tool said: ")
    assert answer.strip() == text.strip()
