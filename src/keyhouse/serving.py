"""What ``keyhouse serve`` runs: the runtime answers at once, the admin app comes after.

Start-up to the first gateway answer is imports, bootstrap and bind. The admin app —
FastAPI, the admin API's routes and pydantic schemas, the UI's static files — was about
a third of the imports, and no gateway call needs it; so it is built in a worker thread,
by the first request that needs it or ``admin_delay`` seconds after start-up, whichever
comes first. Not at once: a thread importing modules competes for the GIL with the
event loop (in 5 ms slices), so the first gateway answers of a fresh replica would
share the CPU with the whole build. The collector stays off until it is built, then
``tame_gc`` freezes everything start-up made, the admin app included.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import traceback
from typing import TYPE_CHECKING, Any, cast

from keyhouse.runtime import Runtime, tame_gc
from keyhouse.services import Services, bootstrap
from keyhouse.settings import Settings

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger("keyhouse")


class ServingApp:
    """The ASGI app of a serving process: the runtime's paths, then the admin app."""

    def __init__(self, runtime: Runtime, *, tune_gc: bool = True, admin_delay: float = 1.0) -> None:
        self.runtime = runtime
        self.tune_gc = tune_gc
        self.admin_delay = admin_delay
        self._admin: ASGIApp | None = None
        self._building: asyncio.Future[ASGIApp] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            handler = self.runtime.handler(scope["path"])
            if handler is not None:
                await handler(scope, receive, send)
                return
        elif kind == "lifespan":
            await self._lifespan(receive, send)
            return
        admin = self._admin or await self.admin()
        await admin(scope, receive, send)

    async def admin(self) -> ASGIApp:
        """The admin app, once it is built (building it now if nothing has yet)."""
        self._start_building()
        assert self._building is not None
        return await asyncio.shield(self._building)

    def _start_building(self) -> None:
        if self._building is not None:
            return
        loop = asyncio.get_running_loop()
        self._building = loop.run_in_executor(None, self._build)
        self._building.add_done_callback(self._built)

    def _build(self) -> ASGIApp:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        from keyhouse.app import build_admin

        # ``serve`` runs uvicorn without its proxy-headers layer, which only the admin
        # app needs (behind a TLS proxy, the session cookie is Secure by the forwarded
        # scheme); it trusts the same peers uvicorn would.
        trusted = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
        admin: Any = build_admin(self.runtime)  # uvicorn's own ASGI types are narrower
        return cast("ASGIApp", ProxyHeadersMiddleware(admin, trusted_hosts=trusted))

    def _built(self, future: asyncio.Future[ASGIApp]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            # Each admin request raises it again (a 500); the gateway goes on serving.
            log.error("the admin app could not be built: %s", type(error).__name__)
        else:
            self._admin = future.result()
        if self.tune_gc:
            tame_gc()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        # The ASGI lifespan protocol, as Starlette's router speaks it.
        started = False
        await receive()  # lifespan.startup
        try:
            async with self.runtime.lifespan(tune_gc=False):
                timer = asyncio.get_running_loop().call_later(
                    self.admin_delay, self._start_building
                )
                await send({"type": "lifespan.startup.complete"})
                started = True
                await receive()  # lifespan.shutdown
                timer.cancel()
                # Not left running in its thread past the services it reads.
                if self._building is not None:
                    with contextlib.suppress(Exception):
                        await self._building
        except BaseException:
            message = traceback.format_exc()
            failed = "lifespan.shutdown.failed" if started else "lifespan.startup.failed"
            await send({"type": failed, "message": message})
            raise
        await send({"type": "lifespan.shutdown.complete"})


def serving_app(settings: Settings | None = None, services: Services | None = None) -> ServingApp:
    """The app ``keyhouse serve`` runs; with no arguments, the factory that
    ``--workers N`` hands uvicorn (each worker bootstraps its own)."""
    settings = settings or (services.settings if services else Settings())
    return ServingApp(Runtime(settings, services or bootstrap(settings)))
