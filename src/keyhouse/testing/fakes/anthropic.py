"""A fake of Anthropic's Messages API (``/v1/messages``, ``/count_tokens``, ``/v1/models``).

It validates requests as ``anthropic_validate`` describes, and thinking and prompt caching
as ``anthropic_features`` describes; it answers with ``anthropic_model``'s deterministic
model. Errors use Anthropic's envelope; a wrong key's message echoes the key (a hostile
upstream, so tests prove the gateway redacts it).
"""

from __future__ import annotations

import asyncio
import json
import secrets

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from keyhouse.testing.fakes.anthropic_features import PromptCache, Signer, problem
from keyhouse.testing.fakes.anthropic_model import count_input_tokens, events, message, sse
from keyhouse.testing.fakes.anthropic_validate import FAILURES, error, validate
from keyhouse.testing.fakes.server import Recorded

MODELS = (("claude-sonnet-4-5", "Claude Sonnet 4.5"), ("claude-haiku-4-5", "Claude Haiku 4.5"))

# --- the app --------------------------------------------------------------------------


async def _record(request: Request) -> Recorded:
    raw = await request.body()
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = None
    recorded = Recorded(
        request.method, request.url.path, request.url.query, dict(request.headers), raw, data
    )
    request.app.state.calls.append(recorded)
    return recorded


def create_app(api_key: str = "sk-ant-test") -> Starlette:
    signer = Signer(secrets.token_bytes(32))
    cache = PromptCache()

    def denied(request: Request) -> Response | None:
        # Recent SDKs send the API key as a Bearer token; the API takes either header.
        presented = request.headers.get("x-api-key")
        scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
        if presented is None and scheme.lower() == "bearer" and bearer:
            if bearer != api_key:
                return error(401, "authentication_error", f"Invalid bearer token: {bearer}")
        elif not presented:
            return error(401, "authentication_error", "x-api-key header is required")
        elif presented != api_key:
            return error(401, "authentication_error", f"invalid x-api-key: {presented}")
        if not request.headers.get("anthropic-version"):
            return error(400, "invalid_request_error", "anthropic-version: header is required")
        return None

    async def messages(request: Request) -> Response:
        recorded = await _record(request)
        if (refused := denied(request)) is not None:
            return refused
        body = recorded.json
        if not isinstance(body, dict):
            return error(400, "invalid_request_error", "The request body is not valid JSON.")
        failure = FAILURES.get(str(body.get("model")))
        if failure is not None:
            response = error(*failure)
            if failure[0] == 429:
                response.headers["retry-after"] = "0"
            return response
        found = validate(body) or problem(body, signer)
        if found:
            return error(400, "invalid_request_error", found)
        if body["model"] == "slow":
            for _ in range(30):
                if await request.is_disconnected():
                    break
                await asyncio.sleep(0.1)
        if body.get("stream"):
            return StreamingResponse(
                sse(events(body, body["model"] == "fail-midstream", signer, cache)),
                media_type="text/event-stream",
            )
        return JSONResponse(message(body, signer, cache))

    async def count_tokens(request: Request) -> Response:
        recorded = await _record(request)
        if (refused := denied(request)) is not None:
            return refused
        body = recorded.json
        if not isinstance(body, dict):
            return error(400, "invalid_request_error", "The request body is not valid JSON.")
        found, tokens = count_input_tokens(body, signer)
        if found:
            return error(400, "invalid_request_error", found)
        return JSONResponse({"input_tokens": tokens})

    async def models(request: Request) -> Response:
        await _record(request)
        if (refused := denied(request)) is not None:
            return refused
        data = [
            {"type": "model", "id": m, "display_name": name, "created_at": "2025-09-29T00:00:00Z"}
            for m, name in MODELS
        ]
        return JSONResponse(
            {"data": data, "has_more": False, "first_id": data[0]["id"], "last_id": data[-1]["id"]}
        )

    app = Starlette(
        routes=[
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
        ]
    )
    app.state.calls = []
    return app
