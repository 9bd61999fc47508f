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
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from keyhouse.testing.fakes.server import Recorded

JSON = dict[str, Any]
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_AUTH_HELP = (
    "Expected OAuth 2 access token, login cookie or other valid authentication "
    "credential. See https://developers.google.com/identity/sign-in/web/"
    "devconsole-project."
)
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


def _google_error(
    code: int,
    status: str,
    message: str,
    details: list[JSON] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    error: JSON = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=code, headers=headers)


def _error_info(reason: str, service: str, **metadata: str) -> JSON:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": service, **metadata},
    }


# --- the deterministic model ----------------------------------------------------------


def _words(text: str) -> int:
    return len(text.split())


def _texts(content: JSON) -> list[str]:
    out = []
    for part in content.get("parts") or []:
        if "text" in part:
            out.append(str(part["text"]))
        elif "functionResponse" in part:
            out.append(_result_text(part["functionResponse"].get("response")))
    return out


def _result_text(response: Any) -> str:
    if isinstance(response, dict) and len(response) == 1:
        (value,) = response.values()
        if isinstance(value, str):
            return value
    return json.dumps(response)


def _answer(body: JSON) -> tuple[list[JSON], int]:
    """The model's parts and its completion token count, per the package conventions."""
    contents = body.get("contents") or []
    last = contents[-1] if contents else {}
    results = [p["functionResponse"] for p in last.get("parts") or [] if "functionResponse" in p]
    if results:
        text = f"tool said: {_result_text(results[-1].get('response'))}"
        return [{"text": text}], _words(text)
    user: JSON = next((c for c in reversed(contents) if c.get("role", "user") == "user"), {})
    prompt = " ".join(t for p in user.get("parts") or [] if (t := p.get("text")))
    functions = [d for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
    calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    allowed = calling.get("allowedFunctionNames")
    if functions and last.get("role", "user") == "user" and calling.get("mode") != "NONE":
        name = allowed[0] if allowed else functions[0]["name"]
        signature = base64.b64encode(hashlib.sha256(prompt.encode()).digest()).decode()
        call = {
            "functionCall": {"name": name, "args": {"q": prompt}},
            "thoughtSignature": signature,
        }
        return [call], _words(prompt) + 1
    text = f"echo: {prompt}"
    return [{"text": text}], _words(text)


def _missing_signature(body: JSON) -> bool:
    return any(
        "functionCall" in p and not p.get("thoughtSignature")
        for c in body.get("contents") or []
        if c.get("role") == "model"
        for p in c.get("parts") or []
    )


def _generate(body: JSON, model: str) -> JSON:
    parts, completion = _answer(body)
    config = body.get("generationConfig") or {}
    finish = "STOP"
    if "text" in parts[0]:
        text = parts[0]["text"]
        for stop in config.get("stopSequences") or []:
            if stop in text:
                text = text[: text.index(stop)]
        limit = config.get("maxOutputTokens")
        if limit is not None and _words(text) > int(limit):
            text, finish = " ".join(text.split()[: int(limit)]), "MAX_TOKENS"
        parts, completion = [{"text": text}], _words(text)
    prompt = sum(_words(t) for c in body.get("contents") or [] for t in _texts(c))
    prompt += sum(_words(t) for t in _texts(body.get("systemInstruction") or {}))
    candidates = [
        {"content": {"parts": parts, "role": "model"}, "finishReason": finish, "index": i}
        for i in range(int(config.get("candidateCount") or 1))
    ]
    return {
        "candidates": candidates,
        "usageMetadata": {
            "promptTokenCount": prompt,
            "candidatesTokenCount": completion * len(candidates),
            "totalTokenCount": prompt + completion * len(candidates),
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
        },
        "modelVersion": model,
        "responseId": secrets.token_urlsafe(16),
    }


def _sse(answer: JSON) -> list[bytes]:
    """Google's ``alt=sse`` framing: one ``data:`` line per chunk, CRLF-terminated. Text
    comes a word at a time; the last chunk carries finishReason and the final usage."""
    candidates = answer["candidates"]
    candidate = candidates[0]  # every candidate of the fake says the same
    parts = candidate["content"]["parts"]
    usage = answer["usageMetadata"]
    pieces: list[list[JSON]] = [parts]
    if "text" in parts[0]:
        words = parts[0]["text"].split(" ")
        pieces = [[{"text": w if i == 0 else f" {w}"}] for i, w in enumerate(words)]
    events = []
    for i, piece in enumerate(pieces):
        final = i == len(pieces) - 1
        chunk_candidates: list[JSON] = []
        for c in candidates:
            chunk_candidates.append(
                {"content": {"parts": piece, "role": "model"}, "index": c["index"]}
            )
            if final:
                chunk_candidates[-1]["finishReason"] = c["finishReason"]
        chunk = {
            "candidates": chunk_candidates,
            "usageMetadata": usage
            if final
            else {
                "promptTokenCount": usage["promptTokenCount"],
                "totalTokenCount": usage["promptTokenCount"],
            },
            "modelVersion": answer["modelVersion"],
            "responseId": answer["responseId"],
        }
        events.append(f"data: {json.dumps(chunk)}\r\n\r\n".encode())
    return events


def _vector(text: str, dimensions: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round((digest[i % 32] - 128) / 128, 6) for i in range(dimensions)]


# --- the app --------------------------------------------------------------------------


def _b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


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

    def check_key(request: Request) -> Response | None:
        presented = request.headers.get("x-goog-api-key") or request.query_params.get("key")
        if not presented:
            return _google_error(
                403,
                "PERMISSION_DENIED",
                (
                    "Method doesn't allow unregistered callers (callers without established "
                    "identity). Please use API Key or other form of API consumer identity to "
                    "call this API."
                ),
            )
        if presented != api_key:
            # A hostile upstream: the presented key comes back in the message.
            message = f"API key not valid. Please pass a valid API key. ({presented})"
            return _google_error(
                400,
                "INVALID_ARGUMENT",
                message,
                [
                    _error_info("API_KEY_INVALID", "generativelanguage.googleapis.com"),
                    {
                        "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                        "locale": "en-US",
                        "message": "API key not valid. Please pass a valid API key.",
                    },
                    {
                        "@type": "type.googleapis.com/google.rpc.DebugInfo",
                        "detail": f"Invalid API key: {presented}",
                    },
                ],
            )
        return None

    def check_token(request: Request, method: str) -> Response | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            message = (
                "API keys are not supported by this API. Expected OAuth2 access token "
                "or other authentication credentials that assert a principal. See "
                "https://cloud.google.com/docs/authentication"
                if request.headers.get("x-goog-api-key")
                else f"Request is missing required authentication credential. {_AUTH_HELP}"
            )
            return _google_error(
                401,
                "UNAUTHENTICATED",
                message,
                [_error_info("CREDENTIALS_MISSING", "aiplatform.googleapis.com", method=method)],
            )
        expiry = tokens.get(token)
        if expiry is None or expiry <= time.time():
            reason = "ACCESS_TOKEN_EXPIRED" if expiry else "ACCESS_TOKEN_TYPE_UNSUPPORTED"
            message = f"Request had invalid authentication credentials. {_AUTH_HELP} ({token})"
            return _google_error(
                401,
                "UNAUTHENTICATED",
                message,
                [_error_info(reason, "aiplatform.googleapis.com", method=method)],
            )
        return None

    async def by_model(model: str, vertex: bool) -> Response | None:
        """The shared fail-*/slow conventions."""
        if model == "slow":
            await asyncio.sleep(3)
        if model == "fail-503":
            return _google_error(
                503, "UNAVAILABLE", "The model is overloaded. Please try again later."
            )
        if model == "fail-429":
            if vertex:
                message = (
                    "Resource exhausted. Please try again later. Please refer to "
                    "https://cloud.google.com/vertex-ai/generative-ai/docs/"
                    "error-code-429 for more details."
                )
                return _google_error(
                    429, "RESOURCE_EXHAUSTED", message, headers={"Retry-After": "0"}
                )
            return _google_error(
                429,
                "RESOURCE_EXHAUSTED",
                ("You exceeded your current quota, please check your plan and billing details."),
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [
                            {
                                "quotaMetric": "generativelanguage.googleapis.com/"
                                "generate_content_free_tier_requests",
                                "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                            }
                        ],
                    },
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0s"},
                ],
                headers={"Retry-After": "0"},
            )
        if model == "fail-400":
            return _google_error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.")
        return None

    async def model_call(
        request: Request, model: str, method: str, vertex: bool, body: Any
    ) -> Response:
        failure = await by_model(model, vertex)
        if failure is not None:
            return failure
        if not isinstance(body, dict):
            return _google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        if method in ("generateContent", "streamGenerateContent"):
            if model.startswith("gemini-3") and _missing_signature(body):
                return _google_error(
                    400,
                    "INVALID_ARGUMENT",
                    (
                        "Function call is missing a thought_signature in functionCall parts. "
                        "This is required for tools to work correctly."
                    ),
                )
            answer = _generate(body, model)
            if method == "generateContent":
                return JSONResponse(answer)
            if request.query_params.get("alt") != "sse":
                return JSONResponse([answer])  # Google's default: one JSON array
            return StreamingResponse(iter(_sse(answer)), media_type="text/event-stream")
        if method == "batchEmbedContents" and not vertex:
            items = body.get("requests") or []
            for item in items:
                if item.get("model") != f"models/{model}":
                    return _google_error(
                        400,
                        "INVALID_ARGUMENT",
                        (f"Model names should match: models/{model} vs {item.get('model')}"),
                    )
            return JSONResponse(
                {
                    "embeddings": [
                        {
                            "values": _vector(
                                " ".join(_texts(i.get("content") or {})),
                                int(i.get("outputDimensionality") or 768),
                            )
                        }
                        for i in items
                    ]
                }
            )
        if method == "predict" and vertex:
            instances = body.get("instances") or []
            if model.startswith("gemini-embedding") and len(instances) > 1:
                return _google_error(
                    400,
                    "INVALID_ARGUMENT",
                    (f"Model {model} supports only 1 instance per request."),
                )
            dimensions = int((body.get("parameters") or {}).get("outputDimensionality") or 768)
            return JSONResponse(
                {
                    "predictions": [
                        {
                            "embeddings": {
                                "statistics": {
                                    "truncated": False,
                                    "token_count": _words(str(i.get("content", ""))),
                                },
                                "values": _vector(str(i.get("content", "")), dimensions),
                            }
                        }
                        for i in instances
                    ],
                    "metadata": {
                        "billableCharacterCount": sum(
                            len(str(i.get("content", ""))) for i in instances
                        )
                    },
                }
            )
        return _google_error(
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
        refused = check_key(request)
        if refused is not None:
            return refused
        model, _, method = request.path_params["target"].partition(":")
        return await model_call(request, model, method, False, entry.json)

    async def gemini_models(request: Request) -> Response:
        await record(request)
        refused = check_key(request)
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
        refused = check_token(request, f"google.cloud.aiplatform.v1.PredictionService.{method}")
        if refused is not None:
            return refused
        return await model_call(request, model, method, True, entry.json)

    async def vertex_models(request: Request) -> Response:
        await record(request)
        refused = check_token(
            request, "google.cloud.aiplatform.v1beta1.ModelGardenService.ListPublisherModels"
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

    def grant_error(error: str, description: str) -> JSONResponse:
        return JSONResponse({"error": error, "error_description": description}, status_code=400)

    async def token(request: Request) -> Response:
        entry = await record(request)
        form = {k: v[0] for k, v in parse_qs(entry.body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != GRANT_TYPE:
            return grant_error(
                "unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type', '')}"
            )
        assertion = form.get("assertion", "")
        try:
            header_b64, payload_b64, signature_b64 = assertion.split(".")
            header = json.loads(_b64url(header_b64))
            claims = json.loads(_b64url(payload_b64))
            signature = _b64url(signature_b64)
        except (ValueError, binascii.Error):
            return grant_error("invalid_grant", "Invalid JWT: not a JWT.")
        if public_key is None or claims.get("iss") != service_account_email:
            return grant_error("invalid_grant", "Invalid grant: account not found")
        try:
            if header.get("alg") != "RS256" or not isinstance(public_key, rsa.RSAPublicKey):
                raise InvalidSignature
            public_key.verify(
                signature,
                f"{header_b64}.{payload_b64}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            # A hostile upstream: the presented assertion comes back in the message.
            return grant_error("invalid_grant", f"Invalid JWT Signature. ({assertion})")
        audience = str(request.url.replace(query=""))
        if claims.get("aud") != audience:
            return grant_error(
                "invalid_grant",
                (f"Invalid JWT: Failed audience check. The expected value was {audience}."),
            )
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if (
            not isinstance(iat, int)
            or not isinstance(exp, int)
            or exp <= now
            or iat > now + 300
            or exp - iat > 3600
        ):
            return grant_error(
                "invalid_grant",
                (
                    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                    "reasonable timeframe. Check your iat and exp values in the JWT claim."
                ),
            )
        if SCOPE not in str(claims.get("scope", "")).split():
            return grant_error(
                "invalid_scope", "Invalid OAuth scope or ID token audience provided."
            )
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
