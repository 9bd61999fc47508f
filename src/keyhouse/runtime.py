"""What serves gateway calls, without the admin app: the ``/v1`` dispatcher with its
hooks (limits, usage), the shared upstream client, the config poller, and the health and
readiness answers.

It imports neither FastAPI nor the admin API's schemas, so ``keyhouse serve`` answers
its first call before the admin app is even built (``keyhouse.serving``); ``create_app``
puts the same runtime in front of an admin app built at once (tests, embedding).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import anyio
import orjson

from keyhouse import redaction
from keyhouse.errors import KeyhouseError, MethodNotAllowed
from keyhouse.gateway import routes as gateway_routes
from keyhouse.gateway.dispatch import Gateway
from keyhouse.gateway.routing import Router
from keyhouse.gateway.upstream import Upstream
from keyhouse.limits import hooks as limits_hooks
from keyhouse.limits import metrics as limits_metrics
from keyhouse.limits import setup as limits_setup
from keyhouse.middleware import UI_HEADERS
from keyhouse.providers.registry import Adapters
from keyhouse.services import Services
from keyhouse.settings import Settings
from keyhouse.shared.session import session_checker
from keyhouse.usage import prices
from keyhouse.usage.service import UsageService

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("keyhouse")


def tame_gc() -> None:
    """Once start-up is done: move every object alive now (modules, the registry, the
    app) out of the collector's sight and collect the young less often, so full
    collections over ~130k long-lived objects stop showing up as p99 pauses. ``serve``
    turns the collector off for start-up; this turns it back on. No collection first:
    one over everything took 130-220 ms of start-up to find ~2k dead objects (a few
    hundred kB, frozen with the rest)."""
    gc.freeze()
    gc.set_threshold(20_000, 50, 100)
    gc.enable()


def gateway_lifespan(
    gateway: Gateway, allow_private: bool
) -> contextlib.AbstractAsyncContextManager[Upstream]:
    """The process's one upstream client, made on the serving loop and handed to the
    gateway; closed at shutdown."""

    @contextlib.asynccontextmanager
    async def run() -> AsyncIterator[Upstream]:
        upstream = Upstream(allow_private=allow_private)
        gateway.upstream = upstream
        try:
            yield upstream
        finally:
            gateway.upstream = None
            await upstream.close()

    return run()


class Runtime:
    """The gateway and everything a call needs, wired once per process."""

    def __init__(
        self, settings: Settings, services: Services, *, span_exporter: Any = None
    ) -> None:
        self.settings = settings
        self.services = services
        self.gateway = Gateway(
            registry=services.registry,
            router=Router(adapters=Adapters()),
            max_body_bytes=settings.max_body_bytes,
            # A lambda, not the bound method: the session service is looked up per call.
            session_check=session_checker(lambda sid: services.sessions.lookup(sid)),
        )
        gateway_routes.install(self.gateway)
        self.alerts = limits_setup.alert_sender(settings)
        self.limiter = limits_setup.build_limiter(
            settings, cost=prices.cost_usd, alerts=self.alerts
        )
        limits_hooks.install(self.gateway, self.limiter)
        self.usage = UsageService(
            settings, services.store, services.registry, span_exporter=span_exporter
        )
        self.gateway.on_complete.append(self.usage.on_call)
        limits_metrics.register(self.usage.metrics.registry, self.limiter, self.alerts)
        # Every log record of the process is scrubbed of the secrets this runtime opens.
        redaction.protect_logs(services.registry.secrets)
        self._health = {"/healthz": _get_only(self._healthz), "/readyz": _get_only(self._readyz)}

    def handler(self, path: str) -> ASGIApp | None:
        """Who answers ``path`` without the admin app: the gateway, health, readiness."""
        if path.startswith("/v1/"):
            return self.gateway
        return self._health.get(path)

    @contextlib.asynccontextmanager
    async def lifespan(self, *, tune_gc: bool = False) -> AsyncIterator[Upstream]:
        """Start what serves calls (client, poller, usage writer, alerts); stop it all,
        in order, at shutdown. ``tune_gc`` is for a serving process, not for tests that
        build many apps in one process."""
        settings, services, limiter, alerts = (
            self.settings,
            self.services,
            self.limiter,
            self.alerts,
        )
        async with gateway_lifespan(self.gateway, settings.allow_private_upstreams) as upstream:
            stop_polling = asyncio.Event()
            poller = asyncio.create_task(
                services.registry.poll_forever(settings.poll_interval_seconds, stop_polling)
            )
            await self.usage.start()
            if tune_gc:
                tame_gc()
            if alerts is not None:
                alerts.start()
            if not limiter.store.shared:
                log.warning(limits_setup.PER_PROCESS)
            try:
                yield upstream
            finally:
                # Joined, not cancelled: a refresh in its worker thread ends first.
                stop_polling.set()
                await poller
                await self.usage.close()  # after the last call ended: its record is queued
                await limiter.drain()
                if alerts is not None:
                    await alerts.aclose()
                await limiter.store.aclose()
                redaction.unprotect_logs(services.registry.secrets)
                # Nothing of this runtime uses the store any more: close its pooled
                # connections (the engine reconnects if the services are used again).
                services.store.dispose()

    # --- health -----------------------------------------------------------------------

    async def _healthz(self, scope: Scope, receive: Receive, send: Send) -> None:
        await _json(send, 200, {"status": "ok"})

    def _check_store(self) -> None:
        self.services.store.ping()
        self.services.keyring.primary  # noqa: B018 - raises if the primary KEK is absent

    async def _readyz(self, scope: Scope, receive: Receive, send: Send) -> None:
        limits = await limits_setup.describe(self.limiter)
        try:
            await anyio.to_thread.run_sync(self._check_store)
        except KeyhouseError as exc:
            body = {"status": "unavailable", "reason": exc.code, "limits": limits}
            await _json(send, 503, body)
            return
        version = self.services.registry.version
        await _json(send, 200, {"status": "ready", "config_version": version, "limits": limits})


def _get_only(answer: ASGIApp) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] in ("GET", "HEAD"):
            await answer(scope, receive, send)
        else:
            await _json(send, 405, MethodNotAllowed().body(), [(b"allow", b"GET")])

    return app


async def _json(
    send: Send, status: int, data: object, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = orjson.dumps(data)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *UI_HEADERS,
        *(extra or ()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
