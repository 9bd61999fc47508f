"""Claude's own Messages API on Vertex AI works with ``adc`` too: the native rawPredict
and count-tokens calls carry the token the metadata server issued, as generateContent
does. The Vertex fake accepts only tokens the metadata server published to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest

from keyhouse.app import create_app
from keyhouse.services import bootstrap
from keyhouse.testing.fakes import google_cloud
from keyhouse.testing.fakes.server import serve
from keyhouse.testing.fakes.vertex_claude import create_app as vertex_fake
from tests.cloud.conftest import apply_env, gce_env
from tests.cloud.keyless import Keyless, add_key, settings

MODEL = "claude-sonnet-4-5@20250929"


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Keyless]]:
    vertex = vertex_fake()
    with (
        serve(google_cloud.create_metadata_app(publish=[vertex.state.tokens])) as metadata,
        serve(vertex) as provider,
    ):
        apply_env(monkeypatch, gce_env(metadata.url, tmp_path))
        case = Keyless(
            "vertex_ai",
            "adc",
            {},
            {"project_id": "keyhouse-test", "location": "us-east5", "base_url": provider.url},
            MODEL,
            [metadata, provider],
            lambda url: ({}, {}),
        )
        on = settings(tmp_path, ambient=True)
        services = bootstrap(on, migrate=True)
        with serve(create_app(on, services)) as gateway:
            yield gateway.url, case
        services.store.dispose()


def test_adc_token_authorizes_claude_s_native_calls(world: tuple[str, Keyless]) -> None:
    base, case = world
    token = add_key(base, case, "claude-adc")
    client = anthropic.Anthropic(base_url=base, api_key=token, max_retries=0, timeout=30)
    turn = [{"role": "user", "content": "hi there"}]
    reply = client.messages.create(model="claude-adc", max_tokens=64, messages=turn)  # type: ignore[arg-type]
    assert reply.content[0].text == "echo: hi there"  # type: ignore[union-attr]
    provider = case.servers[1].app
    call = provider.state.calls[-1]
    assert call.path.endswith(f"/publishers/anthropic/models/{MODEL}:rawPredict")
    issued = call.headers["authorization"].removeprefix("Bearer ")
    assert issued in case.servers[0].app.state.tokens  # the metadata server's own token
    counted = client.messages.count_tokens(model="claude-adc", messages=turn)  # type: ignore[arg-type]
    assert counted.input_tokens == 2
    assert provider.state.calls[-1].path.endswith("/count-tokens:rawPredict")
