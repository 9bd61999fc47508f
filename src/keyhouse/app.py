"""The app factory: ``create_app(settings)`` wires the runtime (store, vault, gateway)
in front of the admin API and UI, all built at once.

Nothing heavy happens at import time. ``bootstrap`` (database, migrations, keyring) runs
before the factory is called, so a wrong KEK stops the process before a port is bound.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.responses import HTMLResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from keyhouse import http_errors
from keyhouse.admin import usage_routes
from keyhouse.admin.routers import DEPENDENCIES, ROUTERS
from keyhouse.middleware import BodyLimit, SecurityHeaders
from keyhouse.runtime import Runtime
from keyhouse.services import Services, bootstrap
from keyhouse.settings import Settings

STATIC = Path(__file__).parent / "ui" / "static"

_NO_UI = """<!doctype html><html><head><meta charset="utf-8"><title>Keyhouse</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:4em auto">
<h1>Keyhouse</h1><p>The web UI has not been built. Run <code>make run</code> (which builds
it with npm) or <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>.</p>
<p>The admin API is at <code>/api/v1</code> and the gateway at <code>/v1</code>.</p>
</body></html>"""


class KeyhouseApp(FastAPI):
    """The admin app, with the runtime in front of it: a gateway, health or readiness
    request never passes FastAPI's middleware stack or router."""

    # path -> who answers it before the admin app, or None (the runtime's ``handler``)
    front: Callable[[str], ASGIApp | None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.front is not None:
            handler = self.front(scope["path"])
            if handler is not None:
                scope["app"] = self
                await handler(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def build_admin(
    runtime: Runtime,
    lifespan: Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]] | None = None,
) -> KeyhouseApp:
    """The admin API, the metrics route and the web UI, over ``runtime``'s services."""
    services, settings = runtime.services, runtime.settings
    app = KeyhouseApp(
        title="Keyhouse",
        version="0.1.0",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.gateway = runtime.gateway
    app.state.services = services
    app.state.limiter = runtime.limiter
    app.state.alerts = runtime.alerts
    app.state.registry = services.registry
    app.state.settings = settings
    app.state.usage = runtime.usage

    http_errors.install(app)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, limit=settings.admin_max_body_bytes)

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


def create_app(
    settings: Settings | None = None,
    services: Services | None = None,
    *,
    tune_gc: bool = False,
    span_exporter: Any = None,
) -> FastAPI:
    """The whole app, built at once: the runtime in front of the admin app, whose
    lifespan runs the runtime's. ``tune_gc`` is for a serving process, not for tests
    that build many apps in one process. ``span_exporter``: an OpenTelemetry span
    exporter to use instead of OTLP (tests). ``keyhouse serve`` uses
    ``keyhouse.serving`` instead, which answers calls before the admin app is built."""
    settings = settings or (services.settings if services else Settings())
    services = services or bootstrap(settings)
    runtime = Runtime(settings, services, span_exporter=span_exporter)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime.lifespan(tune_gc=tune_gc):
            yield

    app = build_admin(runtime, lifespan)
    app.front = runtime.handler
    return app
