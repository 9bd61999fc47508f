"""Claude on the Vertex AI fake: ``publishers/anthropic/models/{model}:rawPredict`` and
``:streamRawPredict``, and ``publishers/anthropic/models/count-tokens:rawPredict``, added
to the Gemini fake's app (``gemini.create_app``), whose OAuth2 token endpoint issues the
Bearer tokens these routes accept — exactly as Vertex AI fronts both model families.

The body is Anthropic's Messages body with ``anthropic_version: "vertex-2023-10-16"``
(required, and only that value) and no ``model`` (it is in the URL); ``stream: true``
asks for Anthropic's SSE. The caller's ``anthropic-beta`` header is taken as at
Anthropic. Everything else is checked by the Anthropic fake's rules and answered by its
model (thinking signatures, prompt-cache usage). A missing or unknown token is Google's
401 UNAUTHENTICATED; a refused body is Anthropic's error envelope, as Vertex relays it.
count-tokens takes the Messages count body with its ``model`` and answers
``{"input_tokens": n}``.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from keyhouse.testing.fakes import gemini
from keyhouse.testing.fakes.anthropic_features import PromptCache, Signer
from keyhouse.testing.fakes.anthropic_model import (
    count_input_tokens,
    events,
    message,
    platform_body,
    sse,
)
from keyhouse.testing.fakes.anthropic_validate import (
    FAILURES,
    error,
)
from keyhouse.testing.fakes.server import Recorded

JSON = dict[str, Any]

VERSION = "vertex-2023-10-16"
_EXTRA = frozenset({"stream"})
_PREFIX = "/v1/projects/{project}/locations/{location}/publishers/anthropic/models/"


def _google_error(code: int, status: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "status": status}}, status_code=code
    )


def create_app(
    api_key: str = "gemini-test-key",
    service_account_email: str | None = None,
    public_key_pem: str | None = None,
) -> Starlette:
    """The Gemini fake (Gemini API, Vertex AI's Gemini, the token endpoint) plus Claude."""
    app = gemini.create_app(api_key, service_account_email, public_key_pem)
    tokens: dict[str, float] = app.state.tokens
    calls: list[Recorded] = app.state.calls
    signer, cache = Signer(secrets.token_bytes(32)), PromptCache()

    async def record(request: Request) -> Recorded:
        raw = await request.body()
        entry = Recorded(
            request.method, request.url.path, request.url.query, dict(request.headers), raw
        )
        try:
            entry.json = json.loads(raw) if raw else None
        except ValueError:
            entry.json = None
        calls.append(entry)
        return entry

    def refused(request: Request) -> Response | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _google_error(
                401,
                "UNAUTHENTICATED",
                "Request is missing required authentication credential. "
                "Expected OAuth 2 access token.",
            )
        expiry = tokens.get(token)
        if expiry is None or expiry <= time.time():
            # A hostile upstream: the presented token comes back in the message.
            return _google_error(
                401,
                "UNAUTHENTICATED",
                f"Request had invalid authentication credentials. ({token})",
            )
        return None

    async def predict(request: Request) -> Response:
        entry = await record(request)
        if (denied := refused(request)) is not None:
            return denied
        model, _, method = request.path_params["target"].partition(":")
        body = entry.json
        if not isinstance(body, dict):
            return error(400, "invalid_request_error", "The request body is not valid JSON.")
        if model == "count-tokens" and method == "rawPredict":
            return count(body)
        if method not in ("rawPredict", "streamRawPredict"):
            return _google_error(404, "NOT_FOUND", f"Method {method} not found.")
        failure = next((f for name, f in FAILURES.items() if model.endswith(name)), None)
        if failure is not None:
            return error(*failure)
        found, messages_body = platform_body(body, model, signer, VERSION, _EXTRA)
        if found:
            return error(400, "invalid_request_error", found)
        if body.get("stream"):
            stream = events(messages_body, model.endswith("fail-midstream"), signer, cache)
            return StreamingResponse(sse(stream), media_type="text/event-stream")
        return JSONResponse(message(messages_body, signer, cache))

    def count(body: JSON) -> Response:
        if body.get("anthropic_version", VERSION) != VERSION:
            return error(400, "invalid_request_error", f"anthropic_version: should be {VERSION}")
        if not str(body.get("model", "")).startswith("claude"):
            return error(400, "invalid_request_error", "model: a Claude model is required")
        plain = {k: v for k, v in body.items() if k != "anthropic_version"}
        found, tokens = count_input_tokens(plain, signer)
        if found:
            return error(400, "invalid_request_error", found)
        return JSONResponse({"input_tokens": tokens})

    app.router.routes.insert(0, Route(_PREFIX + "{target}", predict, methods=["POST"]))
    return app
