"""The app factory: ``create_app(settings)`` wires store, vault, gateway, admin API, UI.

Nothing heavy happens at import time. ``bootstrap`` (database, migrations, keyring) runs
before the factory is called, so a wrong KEK stops the process before a port is bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI
from starlette.responses import HTMLResponse, JSONResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from keyhouse import http_errors, redaction
from keyhouse.admin import usage_routes
from keyhouse.admin.routers import DEPENDENCIES, ROUTERS
from keyhouse.errors import KeyhouseError
from keyhouse.gateway import routes as gateway_routes
from keyhouse.gateway.dispatch import Gateway
from keyhouse.gateway.routing import Router
from keyhouse.gateway.upstream import Upstream
from keyhouse.limits import hooks as limits_hooks
from keyhouse.limits import metrics as limits_metrics
from keyhouse.limits import setup as limits_setup
from keyhouse.middleware import BodyLimit, SecurityHeaders
from keyhouse.providers.registry import Adapters
from keyhouse.services import Services, bootstrap
from keyhouse.settings import Settings
from keyhouse.shared.session import session_checker
from keyhouse.usage import prices
from keyhouse.usage.service import UsageService

log = logging.getLogger("keyhouse")

STATIC = Path(__file__).parent / "ui" / "static"

_NO_UI = """<!doctype html><html><head><meta charset="utf-8"><title>Keyhouse</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:4em auto">
<h1>Keyhouse</h1><p>The web UI has not been built. Run <code>make run</code> (which builds
it with npm) or <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>.</p>
<p>The admin API is at <code>/api/v1</code> and the gateway at <code>/v1</code>.</p>
</body></html>"""


class KeyhouseApp(FastAPI):
    """The admin app, with the ``/v1`` dispatcher in front of it: a gateway request
    never passes FastAPI's middleware stack or router."""

    gateway: Gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/v1/"):
            scope["app"] = self
            await self.gateway(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


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


def create_app(
    settings: Settings | None = None,
    services: Services | None = None,
    *,
    tune_gc: bool = False,
    span_exporter: Any = None,
) -> FastAPI:
    """``tune_gc`` is for a serving process (``keyhouse serve``), not for tests that
    build many apps in one process. ``span_exporter``: an OpenTelemetry span exporter
    to use instead of OTLP (tests)."""
    settings = settings or (services.settings if services else Settings())
    services = services or bootstrap(settings)
    gateway = Gateway(
        registry=services.registry,
        router=Router(adapters=Adapters()),
        max_body_bytes=settings.max_body_bytes,
        session_check=session_checker(services.sessions.lookup),
    )
    gateway_routes.install(gateway)
    alerts = limits_setup.alert_sender(settings)
    limiter = limits_setup.build_limiter(settings, cost=prices.cost_usd, alerts=alerts)
    limits_hooks.install(gateway, limiter)
    usage = UsageService(settings, services.store, services.registry, span_exporter=span_exporter)
    gateway.on_complete.append(usage.on_call)
    limits_metrics.register(usage.metrics.registry, limiter, alerts)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with gateway_lifespan(gateway, settings.allow_private_upstreams) as upstream:
            app.state.http = upstream
            stop_polling = asyncio.Event()
            poller = asyncio.create_task(
                services.registry.poll_forever(settings.poll_interval_seconds, stop_polling)
            )
            await usage.start()
            if tune_gc:
                tame_gc()
            if alerts is not None:
                alerts.start()
            if not limiter.store.shared:
                log.warning(limits_setup.PER_PROCESS)
            try:
                yield
            finally:
                # Joined, not cancelled: a refresh in its worker thread ends first.
                stop_polling.set()
                await poller
                await usage.close()  # after the last call ended: its record is queued
                await limiter.drain()
                if alerts is not None:
                    await alerts.aclose()
                await limiter.store.aclose()
                redaction.unprotect_logs(services.registry.secrets)
                # Nothing of this app uses the store any more: close its pooled
                # connections (the engine reconnects if the services are used again).
                services.store.dispose()

    # Every log record of the process is scrubbed of the secrets this app opens.
    redaction.protect_logs(services.registry.secrets)
    app = KeyhouseApp(
        title="Keyhouse",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.gateway = gateway
    app.state.gateway = gateway
    app.state.services = services
    app.state.limiter = limiter
    app.state.alerts = alerts
    app.state.registry = services.registry
    app.state.settings = settings
    app.state.usage = usage

    http_errors.install(app)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, limit=settings.admin_max_body_bytes)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    def check_store() -> None:
        services.store.ping()
        services.keyring.primary  # noqa: B018 - raises if the primary KEK is absent

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        limits = await limits_setup.describe(limiter)
        try:
            await anyio.to_thread.run_sync(check_store)
        except KeyhouseError as exc:
            return JSONResponse(
                {"status": "unavailable", "reason": exc.code, "limits": limits}, status_code=503
            )
        return JSONResponse(
            {"status": "ready", "config_version": services.registry.version, "limits": limits}
        )

    for admin_router in ROUTERS:
        app.include_router(admin_router, dependencies=DEPENDENCIES)
    app.include_router(usage_routes.metrics_router)

    if (STATIC / "index.html").exists():
        app.mount("/", StaticFiles(directory=STATIC, html=True), name="ui")
    else:

        @app.get("/", include_in_schema=False)
        async def no_ui() -> HTMLResponse:
            return HTMLResponse(_NO_UI)

    return app


def serving_app() -> FastAPI:
    """The factory ``keyhouse serve --workers N`` hands uvicorn (one app per worker)."""
    return create_app(tune_gc=True)
