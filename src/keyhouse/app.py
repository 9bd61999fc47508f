"""The app factory: ``create_app(settings)`` wires store, vault, gateway, admin API, UI.

Nothing heavy happens at import time. ``bootstrap`` (database, migrations, keyring) runs
before the factory is called, so a wrong KEK stops the process before a port is bound.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI
from starlette.responses import HTMLResponse, JSONResponse
from starlette.staticfiles import StaticFiles

from keyhouse import http_errors, redaction
from keyhouse.admin.routers import DEPENDENCIES, ROUTERS
from keyhouse.errors import KeyhouseError
from keyhouse.middleware import BodyLimit, SecurityHeaders
from keyhouse.services import Services, bootstrap
from keyhouse.settings import Settings

STATIC = Path(__file__).parent / "ui" / "static"

_NO_UI = """<!doctype html><html><head><meta charset="utf-8"><title>Keyhouse</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:4em auto">
<h1>Keyhouse</h1><p>The web UI has not been built. Run <code>make run</code> (which builds
it with npm) or <code>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build</code>.</p>
<p>The admin API is at <code>/api/v1</code> and the gateway at <code>/v1</code>.</p>
</body></html>"""


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or (services.settings if services else Settings())
    services = services or bootstrap(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from keyhouse.gateway.http import create_client

        app.state.http = create_client(allow_private=settings.allow_private_upstreams)
        poller = asyncio.create_task(
            services.registry.poll_forever(settings.poll_interval_seconds))
        try:
            yield
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
            await app.state.http.aclose()

    # Every log record of the process is scrubbed of the secrets this app opens.
    redaction.protect_logs(services.registry.secrets)
    app = FastAPI(title="Keyhouse", version="0.1.0", lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None)
    app.state.services = services
    app.state.registry = services.registry
    app.state.settings = settings

    http_errors.install(app)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, gateway_limit=settings.max_body_bytes,
                       admin_limit=settings.admin_max_body_bytes)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        try:
            services.store.ping()
            services.keyring.primary  # noqa: B018 - raises if the primary KEK is absent
        except KeyhouseError as exc:
            return JSONResponse({"status": "unavailable", "reason": exc.code},
                                status_code=503)
        return JSONResponse({"status": "ready", "config_version": services.registry.version})

    for admin_router in ROUTERS:
        app.include_router(admin_router, dependencies=DEPENDENCIES)

    from keyhouse.gateway.routes import router as gateway_router

    app.include_router(gateway_router)

    if (STATIC / "index.html").exists():
        app.mount("/", StaticFiles(directory=STATIC, html=True), name="ui")
    else:
        @app.get("/", include_in_schema=False)
        async def no_ui() -> HTMLResponse:
            return HTMLResponse(_NO_UI)

    return app
