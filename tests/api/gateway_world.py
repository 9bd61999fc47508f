"""The gateway tests' shared set-up: endpoints and keys in a ``StaticRegistry``, the
gateway served on a free port in front of provider fakes, and the SDK clients that call
it. Each test module says only which endpoints and keys it needs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import anthropic
import openai
from starlette.applications import Starlette

from keyhouse.gateway.types import Endpoint, Principal, Target
from keyhouse.providers.base import Credential
from keyhouse.testing.fakes.server import Recorded, ServerThread, serve
from keyhouse.testing.registry import StaticRegistry, gateway_app


def chat(name: str, key_id: str, provider: str, model: str, **extra: Any) -> Endpoint:
    """A chat endpoint (id = name) with one target."""
    return endpoint(name, Target(key_id, provider, model), **extra)


def embeddings(name: str, key_id: str, provider: str, model: str) -> Endpoint:
    return endpoint(name, Target(key_id, provider, model), task="embeddings")


def endpoint(name: str, *targets: Target, task: Any = "chat", **extra: Any) -> Endpoint:
    return Endpoint(id=name, name=name, task=task, targets=targets, **extra)


def key(
    key_id: str,
    provider: str,
    secrets: dict[str, str],
    auth_method: str = "api_key",
    **config: str,
) -> Credential:
    return Credential(key_id, provider, auth_method, secrets, config)


def api_key(key_id: str, provider: str, secret: str, base_url: str, **config: str) -> Credential:
    return key(key_id, provider, {"api_key": secret}, base_url=base_url, **config)


@contextmanager
def serve_gateway(
    endpoints: Sequence[Endpoint], credentials: Sequence[Credential], token: str
) -> Iterator[ServerThread]:
    """The gateway on a free port; ``token`` is a (non-admin) access token for it."""
    registry = StaticRegistry(
        endpoints=endpoints,
        credentials=credentials,
        tokens={token: Principal("t", "tests", is_admin=False)},
    )
    with serve(gateway_app(registry)) as server:
        yield server


def anthropic_client(gateway: ServerThread, token: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=token, max_retries=0, timeout=20)


def openai_client(gateway: ServerThread, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=token, max_retries=0, timeout=20)


def calls(app: Starlette, path_part: str = "") -> list[Recorded]:
    """What the fake received, oldest first, on paths containing ``path_part``."""
    return [c for c in app.state.calls if path_part in c.path]


def last_call(app: Starlette, path_part: str = "") -> Recorded:
    return calls(app, path_part)[-1]
