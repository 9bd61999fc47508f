"""A fake of Google's Gemini API, of Vertex AI's Gemini endpoints and of Google's OAuth2
token endpoint, in one app (see the package docstring for the shared conventions).

- Gemini API: ``/v1beta/models/{model}:{method}`` and ``GET /v1beta/models``; the key is
  checked in ``x-goog-api-key`` (or ``?key=``, which Google also accepts — tests assert
  the adapter never uses it). Missing key → 403 PERMISSION_DENIED, wrong key → 400
  INVALID_ARGUMENT / API_KEY_INVALID, as Google answers.
- Vertex AI: ``/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:{method}``
  and ``GET /v1beta1/publishers/google/models``, with a Bearer token this app issued;
  anything else → 401 UNAUTHENTICATED.
- ``POST /token``: the JWT-bearer grant. The assertion's RS256 signature is verified with
  the service account's public key, and its ``iss``, ``aud`` (this endpoint's URL),
  ``scope`` and lifetime are checked; tokens live 3600 s.

``app.state.calls`` records every request; ``app.state.tokens`` maps issued tokens to
their expiry (``time.time()``), so a test can count or expire them.

This module is the routes; the answers come from ``gemini_model``, the credential checks
from ``gemini_auth``, the error shapes from ``gemini_errors``.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from keyhouse.testing.fakes.gemini_auth import check_grant, check_key, check_token
from keyhouse.testing.fakes.gemini_errors import failure, google_error
from keyhouse.testing.fakes.gemini_model import (
    batch_embeddings,
    generate,
    missing_signature,
    predictions,
    sse,
)
from keyhouse.testing.fakes.server import Recorded

JSON = dict[str, Any]
_MODELS = ("gemini-2.5-flash", "gemini-2.5-pro", "text-embedding-004")


def make_service_account(token_uri: str) -> tuple[JSON, str]:
    """A fresh service-account JSON (as Google's console downloads it) and the PEM of
    its public key, for ``create_app(public_key_pem=...)``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    project = "keyhouse-test"
    info = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": secrets.token_hex(20),
        "private_key": private_pem,
        "client_email": f"keyhouse@{project}.iam.gserviceaccount.com",
        "client_id": str(secrets.randbelow(10**21)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "universe_domain": "googleapis.com",
    }
    return info, public_pem


def create_app(
    api_key: str = "gemini-test-key",
    service_account_email: str | None = None,
    public_key_pem: str | None = None,
) -> Starlette:
    calls: list[Recorded] = []
    tokens: dict[str, float] = {}
    public_key = (
        serialization.load_pem_public_key(public_key_pem.encode()) if public_key_pem else None
    )

    async def record(request: Request) -> Recorded:
        raw = await request.body()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        entry = Recorded(
            request.method, request.url.path, request.url.query, dict(request.headers), raw, parsed
        )
        calls.append(entry)
        return entry

    async def model_call(
        request: Request, model: str, method: str, vertex: bool, body: Any
    ) -> Response:
        if model == "slow":
            await asyncio.sleep(3)
        if vertex and model.startswith("claude-"):
            # Claude is Anthropic's publisher model: Google's path does not serve it.
            return google_error(
                404,
                "NOT_FOUND",
                f"Publisher Model `publishers/google/models/{model}` was not found or your "
                "project does not have access to it.",
            )
        failed = failure(model, vertex)
        if failed is not None:
            return failed
        if not isinstance(body, dict):
            return google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        if method in ("generateContent", "streamGenerateContent"):
            if model.startswith("gemini-3") and missing_signature(body):
                return google_error(
                    400,
                    "INVALID_ARGUMENT",
                    (
                        "Function call is missing a thought_signature in functionCall parts. "
                        "This is required for tools to work correctly."
                    ),
                )
            answer = generate(body, model)
            if method == "generateContent":
                return JSONResponse(answer)
            if request.query_params.get("alt") != "sse":
                return JSONResponse([answer])  # Google's default: one JSON array
            return StreamingResponse(iter(sse(answer)), media_type="text/event-stream")
        if method == "batchEmbedContents" and not vertex:
            items = body.get("requests") or []
            for item in items:
                if item.get("model") != f"models/{model}":
                    return google_error(
                        400,
                        "INVALID_ARGUMENT",
                        (f"Model names should match: models/{model} vs {item.get('model')}"),
                    )
            return JSONResponse(batch_embeddings(items))
        if method == "predict" and vertex:
            instances = body.get("instances") or []
            if model.startswith("gemini-embedding") and len(instances) > 1:
                return google_error(
                    400,
                    "INVALID_ARGUMENT",
                    (f"Model {model} supports only 1 instance per request."),
                )
            dimensions = int((body.get("parameters") or {}).get("outputDimensionality") or 768)
            return JSONResponse(predictions(instances, dimensions))
        return google_error(
            404,
            "NOT_FOUND",
            (
                f"models/{model} is not found for API version v1beta, or is not supported for "
                f"{method}. Call ListModels to see the list of available models and their "
                "supported methods."
            ),
        )

    async def gemini_model(request: Request) -> Response:
        entry = await record(request)
        refused = check_key(request, api_key)
        if refused is not None:
            return refused
        model, _, method = request.path_params["target"].partition(":")
        return await model_call(request, model, method, False, entry.json)

    async def gemini_models(request: Request) -> Response:
        await record(request)
        refused = check_key(request, api_key)
        if refused is not None:
            return refused
        size = int(request.query_params.get("pageSize") or 50)
        return JSONResponse(
            {
                "models": [
                    {
                        "name": f"models/{m}",
                        "version": "001",
                        "displayName": m,
                        "inputTokenLimit": 1048576,
                        "outputTokenLimit": 65536,
                        "supportedGenerationMethods": (
                            ["embedContent"]
                            if "embedding" in m
                            else ["generateContent", "countTokens"]
                        ),
                    }
                    for m in _MODELS[:size]
                ]
            }
        )

    async def vertex_model(request: Request) -> Response:
        entry = await record(request)
        model, _, method = request.path_params["target"].partition(":")
        method_name = f"google.cloud.aiplatform.v1.PredictionService.{method}"
        refused = check_token(request, method_name, tokens)
        if refused is not None:
            return refused
        return await model_call(request, model, method, True, entry.json)

    async def vertex_models(request: Request) -> Response:
        await record(request)
        refused = check_token(
            request,
            "google.cloud.aiplatform.v1beta1.ModelGardenService.ListPublisherModels",
            tokens,
        )
        if refused is not None:
            return refused
        return JSONResponse(
            {
                "publisherModels": [
                    {
                        "name": f"publishers/google/models/{m}",
                        "versionId": "001",
                        "openSourceCategory": "PROPRIETARY",
                        "launchStage": "GA",
                    }
                    for m in _MODELS[:1]
                ]
            }
        )

    async def token(request: Request) -> Response:
        entry = await record(request)
        form = {k: v[0] for k, v in parse_qs(entry.body.decode("utf-8", "replace")).items()}
        now = time.time()
        audience = str(request.url.replace(query=""))
        refused = check_grant(form, audience, public_key, service_account_email, now)
        if refused is not None:
            return refused
        issued = f"ya29.fake-{secrets.token_urlsafe(32)}"
        tokens[issued] = now + 3600
        return JSONResponse({"access_token": issued, "expires_in": 3600, "token_type": "Bearer"})

    app = Starlette(
        routes=[
            Route("/v1beta/models", gemini_models, methods=["GET"]),
            Route("/v1beta/models/{target}", gemini_model, methods=["POST"]),
            Route(
                "/v1/projects/{project}/locations/{location}/publishers/google/models/{target}",
                vertex_model,
                methods=["POST"],
            ),
            Route("/v1beta1/publishers/google/models", vertex_models, methods=["GET"]),
            Route("/token", token, methods=["POST"]),
        ]
    )
    app.state.calls = calls
    app.state.tokens = tokens
    return app
