"""A ``Registry`` built from plain data, and the gateway app around it: tests of the
gateway without a database."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from fastapi import FastAPI

from keyhouse.errors import NoKey
from keyhouse.gateway.types import Endpoint, Principal
from keyhouse.providers.base import Credential


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class StaticRegistry:
    """Endpoints, credentials and tokens held in dicts; mutable so tests can rotate a
    key or delete one mid-test."""

    def __init__(
        self,
        endpoints: Iterable[Endpoint] = (),
        credentials: Iterable[Credential] = (),
        tokens: Mapping[str, Principal] | None = None,
    ) -> None:
        self._endpoints = {e.name: e for e in endpoints}
        self._credentials = {c.key_id: c for c in credentials}
        # Like the real registry, keep only digests of tokens.
        self._tokens = {_digest(t): p for t, p in (tokens or {}).items()}

    # --- the Registry protocol ---------------------------------------------------------

    def endpoint(self, name: str) -> Endpoint | None:
        hit = self._endpoints.get(name)
        if hit is None:
            hit = next((e for e in self._endpoints.values() if name in e.aliases), None)
        return hit

    def endpoints(self) -> list[Endpoint]:
        return [self._endpoints[n] for n in sorted(self._endpoints)]

    def credential(self, key_id: str) -> Credential:
        credential = self._credentials.get(key_id)
        if credential is None:
            raise NoKey()
        return credential

    def authenticate(self, token: str) -> Principal | None:
        return self._tokens.get(_digest(token))

    # --- test helpers ------------------------------------------------------------------

    def put_endpoint(self, endpoint: Endpoint) -> None:
        self._endpoints[endpoint.name] = endpoint

    def put_credential(self, credential: Credential) -> None:
        self._credentials[credential.key_id] = credential

    def delete_credential(self, key_id: str) -> None:
        self._credentials.pop(key_id, None)

    def put_token(self, token: str, principal: Principal) -> None:
        self._tokens[_digest(token)] = principal


def gateway_app(
    registry: StaticRegistry,
    *,
    allow_private: bool = True,
    router: Any = None,
    session_check: Any = None,
    max_body_bytes: int = 10 * 1024 * 1024,
) -> FastAPI:
    """The gateway alone: its dispatcher and routes, the real error rendering, the
    shared client — wired the way ``create_app`` wires them.

    The client is made by the app's lifespan (so it lives on the serving loop); for an
    in-process ``httpx.ASGITransport`` run that lifespan with
    ``async with app.router.lifespan_context(app): ...``.
    """
    from keyhouse.app import KeyhouseApp
    from keyhouse.gateway import routes
    from keyhouse.gateway.dispatch import Gateway
    from keyhouse.gateway.routing import Router
    from keyhouse.runtime import gateway_lifespan

    gateway = Gateway(
        registry=registry,
        router=router or Router(),
        max_body_bytes=max_body_bytes,
        session_check=session_check,
    )
    routes.install(gateway)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with gateway_lifespan(gateway, allow_private) as upstream:
            app.state.http = upstream
            yield

    app = KeyhouseApp(lifespan=lifespan)
    app.front = lambda path: gateway if path.startswith("/v1/") else None
    app.state.gateway = gateway
    app.state.registry = registry
    return app
