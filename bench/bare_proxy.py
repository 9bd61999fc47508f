"""The floor: a bare Starlette pass-through proxy on uvicorn + uvloop + httptools, with
one shared aiohttp client.

No auth, no routing, no conversion: read the body, decide stream or not, forward, relay.
Whatever Keyhouse adds on top of this is the price of its features; this itself is about
the cheapest a Python proxy gets. Run as ``python -m bench.bare_proxy``.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator

import aiohttp
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route


def create_app(upstream: str) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=512)
        async with aiohttp.ClientSession(
            connector=connector, trust_env=False, cookie_jar=aiohttp.DummyCookieJar()
        ) as client:
            app.state.client = client
            yield

    url = f"{upstream}/v1/chat/completions"

    async def chat(request: Request) -> Response:
        body = await request.body()
        client: aiohttp.ClientSession = request.app.state.client
        headers = {
            "content-type": "application/json",
            "authorization": request.headers.get("authorization", ""),
        }
        response = await client.post(url, data=body, headers=headers, allow_redirects=False)
        if orjson.loads(body).get("stream"):
            return StreamingResponse(
                response.content.iter_any(),
                status_code=response.status,
                media_type="text/event-stream",
                background=BackgroundTask(response.release),
            )
        content = await response.read()
        response.release()
        return Response(content, status_code=response.status, media_type="application/json")

    return Starlette(
        routes=[Route("/v1/chat/completions", chat, methods=["POST"])], lifespan=lifespan
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    uvicorn.run(
        create_app(args.upstream),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
