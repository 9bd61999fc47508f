"""A fake of OpenAI's HTTP API, and of the two services that speak it behind other auth:
Azure OpenAI (with its Entra ID token endpoint) and Databricks serving endpoints.

Each family answers errors in its own real shape. Wrong credentials are rejected the way
the real service does it, except that the body echoes the presented credential in full —
a hostile upstream, so tests can prove the gateway redacts what comes back.

This module is the routes and the credential checks; the answers come from
``openai_model``, the error shapes from ``openai_errors``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from keyhouse.testing.fakes import openai_responses
from keyhouse.testing.fakes.openai_errors import (
    ERRORS,
    azure_error,
    databricks_error,
    failure,
    openai_error,
)
from keyhouse.testing.fakes.openai_model import completion, embeddings, stream
from keyhouse.testing.fakes.server import Recorded

JSON = dict[str, Any]

MODELS = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small")
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"


def _models() -> JSON:
    return {
        "object": "list",
        "data": [
            {"id": m, "object": "model", "created": 1715367049, "owned_by": "system"}
            for m in MODELS
        ],
    }


# --- request plumbing -----------------------------------------------------------------


async def _record(request: Request) -> Recorded:
    body = await request.body()
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    recorded = Recorded(
        request.method, request.url.path, request.url.query, dict(request.headers), body, data
    )
    request.app.state.calls.append(recorded)
    return recorded


async def _slow(request: Request) -> None:
    # 3 s, but give up early when the client left so shutdown is not held up.
    for _ in range(30):
        if await request.is_disconnected():
            return
        await asyncio.sleep(0.1)


def _model(recorded: Recorded) -> str:
    return str(recorded.json.get("model", "")) if isinstance(recorded.json, dict) else ""


def _bearer(request: Request) -> str | None:
    value = request.headers.get("authorization")
    if value is None:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _serve(
    request: Request, recorded: Recorded, family: str, model: str, op: str
) -> Response:
    """The part every family shares once the caller is authenticated."""
    body = recorded.json
    error = ERRORS[family]
    if not isinstance(body, dict):
        return error(
            400,
            "invalid_request_error" if family == "openai" else "BadRequest",
            "We could not parse the JSON body of your request.",
        )
    failed = failure(model, family)
    if failed is not None:
        return failed
    if model == "slow":
        await _slow(request)
    if op == "embeddings":
        result = embeddings(body, model)
        if isinstance(result, str):
            return error(400, "invalid_request_error", result)
        return JSONResponse(result)
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return error(
            400,
            "invalid_request_error",
            "'messages' is a required property and must be a non-empty array.",
        )
    if body.get("stream"):
        return StreamingResponse(stream(body, model, family), media_type="text/event-stream")
    return JSONResponse(completion(body, model, family))


def create_app(
    api_key: str | None = "sk-test",
    azure_api_key: str | None = None,
    entra_client_secret: str | None = None,
    databricks_token: str | None = None,
    entra_client_id: str = "keyhouse-client",
    databricks_client: tuple[str, str] | None = None,
) -> Starlette:
    """``api_key=None`` serves the OpenAI routes without auth, as Ollama does.
    ``databricks_client`` is a service principal's (client id, secret) that the workspace's
    ``POST /oidc/v1/token`` (OAuth M2M) exchanges for tokens the serving routes accept."""
    issued: set[str] = set()  # Entra tokens handed out, which the Azure routes accept
    stored: dict[str, JSON] = {}  # responses kept for previous_response_id (store: true)
    workspace_tokens: set[str] = set()  # Databricks OAuth tokens handed out

    def openai_auth(request: Request) -> Response | None:
        if api_key is None:
            return None
        presented = _bearer(request)
        if not presented:
            return openai_error(
                401,
                "invalid_request_error",
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
                " You can obtain an API key from https://platform.openai.com/account/api-keys.",
            )
        if presented != api_key:
            return openai_error(
                401,
                "invalid_request_error",
                f"Incorrect API key provided: {presented}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_api_key",
            )
        return None

    def azure_auth(request: Request) -> Response | None:
        if "api-version" not in request.query_params:
            return azure_error(404, "404", "Resource not found")
        key = request.headers.get("api-key")
        if key is not None:
            if azure_api_key is not None and key == azure_api_key:
                return None
            return azure_error(
                401,
                "401",
                f"Access denied due to invalid subscription key "
                f"{key} or wrong API endpoint. Make sure to provide a valid key "
                "for an active subscription and use a correct regional API "
                "endpoint for your resource.",
            )
        token = _bearer(request)
        if token is None:
            return azure_error(
                401,
                "401",
                "Access denied due to missing subscription key. "
                "Make sure to include subscription key when making requests "
                "to an API.",
            )
        if token in issued:
            return None
        return azure_error(
            401,
            "401",
            f"Unauthorized. Access token {token} is missing, "
            "invalid, audience is incorrect (https://cognitiveservices.azure.com)"
            ", or have expired.",
        )

    def databricks_auth(request: Request) -> Response | None:
        token = _bearer(request)
        if not token:
            return databricks_error(
                401, "401", "Credential was not sent or was of an unsupported type for this API."
            )
        if token in workspace_tokens:
            return None
        if databricks_token is None or token != databricks_token:
            return databricks_error(403, "403", f"Invalid access token: {token}.")
        return None

    async def databricks_oauth(request: Request) -> Response:
        recorded = await _record(request)
        form = {k: v[0] for k, v in parse_qs(recorded.body.decode()).items()}
        scheme, _, basic = request.headers.get("authorization", "").partition(" ")
        try:
            client_id, _, secret = base64.b64decode(basic).decode().partition(":")
        except ValueError:
            client_id = secret = ""
        if form.get("grant_type") != "client_credentials":
            return JSONResponse(
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant_type must be client_credentials",
                },
                status_code=400,
            )
        if (
            scheme.lower() != "basic"
            or databricks_client is None
            or (client_id, secret) != databricks_client
        ):
            return JSONResponse(
                {"error": "invalid_client", "error_description": "Client authentication failed"},
                status_code=401,
            )
        if form.get("scope") != "all-apis":
            return JSONResponse(
                {"error": "invalid_scope", "error_description": "scope must be all-apis"},
                status_code=400,
            )
        token = "dapi-oauth-" + secrets.token_urlsafe(24)
        workspace_tokens.add(token)
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "scope": "all-apis", "expires_in": 3600}
        )

    async def openai_route(request: Request) -> Response:
        recorded = await _record(request)
        if (denied := openai_auth(request)) is not None:
            return denied
        if request.method == "GET":
            return JSONResponse(_models())
        model = _model(recorded)
        op = "embeddings" if request.url.path.endswith("/embeddings") else "chat"
        return await _serve(request, recorded, "openai", model, op)

    async def responses_route(request: Request) -> Response:
        recorded = await _record(request)
        if (denied := openai_auth(request)) is not None:
            return denied
        if not isinstance(recorded.json, dict):
            return openai_error(
                400, "invalid_request_error", "We could not parse the JSON body of your request."
            )
        failed = failure(_model(recorded), "openai")
        if failed is not None:
            return failed
        return openai_responses.serve(recorded.json, stored)

    async def azure_responses_route(request: Request) -> Response:
        recorded = await _record(request)
        if (denied := azure_auth(request)) is not None:
            return denied
        if not isinstance(recorded.json, dict):
            return azure_error(400, "BadRequest", "The request body is not valid JSON.")
        return openai_responses.serve(recorded.json, stored)

    async def azure_route(request: Request) -> Response:
        recorded = await _record(request)
        if (denied := azure_auth(request)) is not None:
            return denied
        if request.method == "GET":
            return JSONResponse(_models())
        op = "embeddings" if request.url.path.endswith("/embeddings") else "chat"
        return await _serve(request, recorded, "azure", request.path_params["deployment"], op)

    async def databricks_route(request: Request) -> Response:
        recorded = await _record(request)
        if (denied := databricks_auth(request)) is not None:
            return denied
        if request.method == "GET":
            return JSONResponse(
                {
                    "endpoints": [
                        {
                            "name": "databricks-meta-llama-3-3-70b-instruct",
                            "task": "llm/v1/chat",
                            "state": {"ready": "READY", "config_update": "NOT_UPDATING"},
                        }
                    ]
                }
            )
        model = _model(recorded)
        op = "embeddings" if request.url.path.endswith("/embeddings") else "chat"
        return await _serve(request, recorded, "databricks", model, op)

    async def entra_token(request: Request) -> Response:
        recorded = await _record(request)
        form = {k: v[0] for k, v in parse_qs(recorded.body.decode()).items()}

        def refuse(status: int, error: str, code: int, text: str) -> Response:
            return JSONResponse(
                {
                    "error": error,
                    "error_description": f"AADSTS{code}: {text}",
                    "error_codes": [code],
                    "trace_id": secrets.token_hex(8),
                },
                status_code=status,
            )

        if form.get("grant_type") != "client_credentials":
            return refuse(
                400,
                "unsupported_grant_type",
                7000218,
                "The request body must contain the following parameter: 'grant_type'.",
            )
        if form.get("client_id") != entra_client_id:
            return refuse(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier "
                f"'{form.get('client_id')}' was not found in the directory "
                f"'{request.path_params['tenant']}'.",
            )
        secret = form.get("client_secret")
        if not secret or entra_client_secret is None or secret != entra_client_secret:
            return refuse(
                401,
                "invalid_client",
                7000215,
                f"Invalid client secret provided: "
                f"{secret}. Ensure the secret being sent in the request is the "
                "client secret value, not the client secret ID.",
            )
        if form.get("scope") != ENTRA_SCOPE:
            return refuse(
                400, "invalid_scope", 1002012, "The provided value for scope is not valid."
            )
        token = "eyJ0eXAiOiJKV1Qi." + secrets.token_urlsafe(32)
        issued.add(token)
        return JSONResponse(
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": token,
            }
        )

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", openai_route, methods=["POST"]),
            Route("/v1/embeddings", openai_route, methods=["POST"]),
            Route("/v1/models", openai_route, methods=["GET"]),
            Route("/v1/responses", responses_route, methods=["POST"]),
            Route(
                "/openai/deployments/{deployment}/chat/completions", azure_route, methods=["POST"]
            ),
            Route("/openai/deployments/{deployment}/embeddings", azure_route, methods=["POST"]),
            Route("/openai/models", azure_route, methods=["GET"]),
            Route("/openai/responses", azure_responses_route, methods=["POST"]),
            Route("/serving-endpoints/chat/completions", databricks_route, methods=["POST"]),
            Route("/serving-endpoints/embeddings", databricks_route, methods=["POST"]),
            Route("/api/2.0/serving-endpoints", databricks_route, methods=["GET"]),
            Route("/{tenant}/oauth2/v2.0/token", entra_token, methods=["POST"]),
            Route("/oidc/v1/token", databricks_oauth, methods=["POST"]),
        ]
    )
    app.state.calls = []
    app.state.entra_tokens = issued
    app.state.workspace_tokens = workspace_tokens
    return app
