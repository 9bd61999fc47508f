"""Coding agents through a real ``keyhouse serve``: Claude Code and Codex CLI, installed
at pinned versions by ``make agents`` (into tests/agents/node_modules, from npm), run
non-interactively against the provider fakes.

Each agent runs with a throwaway HOME and its telemetry, update checks and other
non-essential traffic turned off; the only server it can reach is Keyhouse (or, for
Claude Code, a recording proxy in front of Keyhouse, so a test can compare what the
agent sent with what the provider received).
"""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from keyhouse.testing.fakes.anthropic import create_app as anthropic_fake
from keyhouse.testing.fakes.openai import create_app as openai_fake
from keyhouse.testing.fakes.server import Recorded, serve
from tests.conftest import ADMIN_TOKEN
from tests.replicas import keyhouse_env, replica_process

HERE = Path(__file__).parent
MODULES = HERE / "node_modules"
ANTHROPIC_KEY = "sk-ant-api03-agents-" + "a" * 30
OPENAI_KEY = "sk-agents-" + "o" * 30
_ARCH = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}


def claude_binary() -> Path:
    """The platform package's native binary (what the package's postinstall would copy
    over its bin stub; ``make agents`` installs without running scripts)."""
    arch = _ARCH.get(platform.machine().lower(), platform.machine())
    return MODULES / "@anthropic-ai" / f"claude-code-linux-{arch}" / "claude"


def codex_binary() -> Path:
    return MODULES / ".bin" / "codex"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = [p for p in (claude_binary(), codex_binary()) if not p.exists()]
    if not missing:
        return
    skip = pytest.mark.skip(
        reason=f"the coding agents are not installed ({missing[0]}); run `make agents`"
    )
    for item in items:
        if Path(str(item.fspath)).parent == HERE:
            item.add_marker(skip)


def recording_proxy(upstream: str) -> Starlette:
    """Forwards every request to ``upstream`` untouched (streams too), keeping a copy."""

    async def forward(request: Request) -> Response:
        body = await request.body()
        request.app.state.calls.append(
            Recorded(
                request.method,
                request.url.path,
                request.url.query,
                dict(request.headers),
                body,
                None,
            )
        )
        client = httpx.AsyncClient(timeout=120)
        headers = {
            k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
        }
        url = upstream + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        upstream_response = await client.send(
            client.build_request(request.method, url, headers=headers, content=body), stream=True
        )

        async def close() -> None:
            await upstream_response.aclose()
            await client.aclose()

        kept = {
            k: v
            for k, v in upstream_response.headers.items()
            if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")
        }
        return StreamingResponse(
            upstream_response.aiter_raw(),
            status_code=upstream_response.status_code,
            headers=kept,
            background=BackgroundTask(close),
        )

    app = Starlette(
        routes=[Route("/{path:path}", forward, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])]
    )
    app.state.calls = []
    return app


@dataclass
class Stack:
    url: str  # the Keyhouse server
    token: str  # an access token for the agents
    claude: Starlette  # the Anthropic fake
    gpt: Starlette  # the OpenAI fake
    proxy: Starlette  # records what Claude Code sent to Keyhouse
    proxy_url: str
    home: Path
    endpoints: dict[str, str] = field(default_factory=dict)


def _admin(url: str) -> httpx.Client:
    return httpx.Client(
        base_url=url, timeout=30, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )


def _created(response: httpx.Response) -> Any:
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("agents")
    (home / "keyhouse").mkdir()
    claude_app, gpt_app = anthropic_fake(api_key=ANTHROPIC_KEY), openai_fake(api_key=OPENAI_KEY)
    with ExitStack() as stack:
        claude = stack.enter_context(serve(claude_app))
        gpt = stack.enter_context(serve(gpt_app))
        url, _ = stack.enter_context(replica_process(keyhouse_env(home / "keyhouse")))
        proxy_app = recording_proxy(url)
        proxy = stack.enter_context(serve(proxy_app))
        admin = stack.enter_context(_admin(url))
        keys = {
            "anthropic": _created(
                admin.post(
                    "/api/v1/keys",
                    json={
                        "name": "anthropic",
                        "provider": "anthropic",
                        "credentials": {"api_key": ANTHROPIC_KEY},
                        "config": {"base_url": claude.url},
                    },
                )
            ),
            "compatible": _created(
                admin.post(
                    "/api/v1/keys",
                    json={
                        "name": "compatible",
                        "provider": "openai_compatible",
                        "credentials": {"api_key": OPENAI_KEY},
                        "config": {"base_url": f"{gpt.url}/v1"},
                    },
                )
            ),
            "openai": _created(
                admin.post(
                    "/api/v1/keys",
                    json={
                        "name": "openai",
                        "provider": "openai",
                        "credentials": {"api_key": OPENAI_KEY},
                        "config": {"base_url": f"{gpt.url}/v1"},
                    },
                )
            ),
        }
        # The aliases are model names the agents have built in: they reach these endpoints
        # without any model setting in the agent.
        endpoints = {
            "agents-anthropic": ("anthropic", "claude-haiku-4-5", ["claude-sonnet-4-5"]),
            "agents-compatible": ("compatible", "my-model", ["gpt-5-codex"]),
            "agents-openai": ("openai", "gpt-4o-mini", []),
        }
        for name, (key, model, aliases) in endpoints.items():
            _created(
                admin.post(
                    "/api/v1/endpoints",
                    json={
                        "name": name,
                        "aliases": aliases,
                        "targets": [{"key_id": keys[key]["id"], "model": model}],
                    },
                )
            )
        token = _created(admin.post("/api/v1/access-tokens", json={"name": "agents"}))["token"]
        yield Stack(
            url,
            token,
            claude_app,
            gpt_app,
            proxy_app,
            proxy.url,
            home,
            {n: m for n, (_, m, _) in endpoints.items()},
        )


def agent_env(home: Path, **extra: str) -> dict[str, str]:
    """A clean environment: no developer settings or credentials reach the agent."""
    home.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "NO_COLOR": "1",
        **extra,
    }


def run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        args,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
        check=False,
    )
