"""The floor: a bare Starlette pass-through proxy with one shared httpx client.

No auth, no routing, no conversion: read the body, decide stream or not, forward, relay.
Whatever Keyhouse adds on top of this is the price of its features; this itself is the
price of any Python proxy. Run as ``python -m bench.bare_proxy``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import AsyncIterator

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route


def create_app(upstream: str) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=512, max_keepalive_connections=128)
        async with httpx.AsyncClient(limits=limits, timeout=60, trust_env=False) as client:
            app.state.client = client
            yield

    async def chat(request: Request) -> Response:
        body = await request.body()
        client: httpx.AsyncClient = request.app.state.client
        upstream_request = client.build_request(
            "POST", f"{upstream}/v1/chat/completions", content=body,
            headers={"content-type": "application/json",
                     "authorization": request.headers.get("authorization", "")})
        if json.loads(body).get("stream"):
            response = await client.send(upstream_request, stream=True)
            return StreamingResponse(response.aiter_raw(), status_code=response.status_code,
                                     media_type="text/event-stream",
                                     background=BackgroundTask(response.aclose))
        response = await client.send(upstream_request)
        return Response(response.content, status_code=response.status_code,
                        media_type="application/json")

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])],
                     lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    uvicorn.run(create_app(args.upstream), host="127.0.0.1", port=args.port,
                log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
