"""Fakes of the GCE metadata server and of Cloud KMS, served on 127.0.0.1.

The metadata server behaves as Google's does towards google-auth: ``GET /`` answers with
``Metadata-Flavor: Google`` (that is how google-auth detects it); every
``/computeMetadata/v1/...`` request must carry ``Metadata-Flavor: Google`` and no
``X-Forwarded-For`` (403 otherwise, as the real server refuses proxied requests); the
default service account's token is issued with the scopes asked for. Tokens it issues are
recorded in ``app.state.tokens`` (token -> expiry), and also handed to every dict in
``publish`` — the token stores of the services that should accept them (Cloud KMS below,
the Gemini fake's Vertex routes).

Cloud KMS: ``POST /v1/{cryptoKey}:encrypt`` and ``:decrypt`` with a Bearer token the
metadata server issued; ``additionalAuthenticatedData`` is bound with real AES-GCM under a
key only the fake holds; errors in Google's ``{"error": {code, message, status}}`` shape
(401 UNAUTHENTICATED, 403 PERMISSION_DENIED for an unknown key, 400 INVALID_ARGUMENT).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
import time
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from keyhouse.testing.fakes.server import Recorded

SCOPE = "https://www.googleapis.com/auth/cloud-platform"


def _google_error(status: int, reason: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": status, "message": message, "status": reason}}, status_code=status
    )


async def _record(request: Request, calls: list[Recorded]) -> Recorded:
    body = await request.body()
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    rec = Recorded(
        request.method,
        request.url.path,
        request.url.query,
        {k.lower(): v for k, v in request.headers.items()},
        body,
        parsed,
    )
    calls.append(rec)
    return rec


def create_metadata_app(
    project_id: str = "keyhouse-test",
    email: str = "keyhouse@keyhouse-test.iam.gserviceaccount.com",
    publish: list[dict[str, float]] | None = None,
    lifetime: int = 3599,
) -> Starlette:
    tokens: dict[str, float] = {}
    sinks = [tokens, *(publish or [])]
    calls: list[Recorded] = []

    async def root(request: Request) -> Response:
        await _record(request, calls)
        return PlainTextResponse("computeMetadata/\n", headers={"Metadata-Flavor": "Google"})

    async def metadata(request: Request) -> Response:
        await _record(request, calls)
        if request.headers.get("metadata-flavor") != "Google":
            return PlainTextResponse(
                'Missing required header "Metadata-Flavor": "Google"', status_code=403
            )
        if "x-forwarded-for" in request.headers:
            return PlainTextResponse(
                "Request denied: X-Forwarded-For header present", status_code=403
            )
        path = request.path_params["path"]
        headers = {"Metadata-Flavor": "Google"}
        if path == "project/project-id":
            return PlainTextResponse(project_id, headers=headers)
        if path == "universe/universe-domain":
            return PlainTextResponse("googleapis.com", headers=headers)
        if path in ("instance/service-accounts/default/", f"instance/service-accounts/{email}/"):
            return JSONResponse(
                {"aliases": ["default"], "email": email, "scopes": [SCOPE]}, headers=headers
            )
        if path in (
            "instance/service-accounts/default/token",
            f"instance/service-accounts/{email}/token",
        ):
            scopes = request.query_params.get("scopes", SCOPE).split(",")
            if SCOPE not in scopes:
                return PlainTextResponse("scope not granted to this instance", status_code=400)
            token = "ya29.fake-" + secrets.token_urlsafe(24)
            for sink in sinks:
                sink[token] = time.time() + lifetime
            return JSONResponse(
                {"access_token": token, "expires_in": lifetime, "token_type": "Bearer"},
                headers=headers,
            )
        return PlainTextResponse("Not Found", status_code=404, headers=headers)

    app = Starlette(
        routes=[
            Route("/", root, methods=["GET"]),
            Route("/computeMetadata/v1/{path:path}", metadata, methods=["GET"]),
        ]
    )
    app.state.tokens = tokens
    app.state.calls = calls
    return app


def create_kms_app(keys: list[str], tokens: dict[str, float] | None = None) -> Starlette:
    """``keys``: the cryptoKey resource names that exist and the caller may use."""
    accepted: dict[str, float] = tokens if tokens is not None else {}
    material = {name: AESGCM(os.urandom(32)) for name in keys}
    calls: list[Recorded] = []

    def b64(body: dict[str, Any], field: str) -> bytes | None:
        try:
            return base64.b64decode(body.get(field) or "", validate=True)
        except (binascii.Error, ValueError, TypeError):
            return None

    async def operate(request: Request) -> Response:
        recorded = await _record(request, calls)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _google_error(
                401,
                "UNAUTHENTICATED",
                "Request is missing required "
                "authentication credential. Expected OAuth 2 access token.",
            )
        if accepted.get(token, 0) <= time.time():
            return _google_error(
                401, "UNAUTHENTICATED", "Request had invalid authentication credentials."
            )
        name, _, method = request.path_params["resource"].rpartition(":")
        if name not in material:
            return _google_error(
                403,
                "PERMISSION_DENIED",
                f"Permission "
                f"'cloudkms.cryptoKeyVersions.useTo{method.title()}' denied on "
                f"resource '{name}' (or it may not exist).",
            )
        body = recorded.json if isinstance(recorded.json, dict) else {}
        aad = b64(body, "additionalAuthenticatedData")
        if aad is None:
            return _google_error(
                400, "INVALID_ARGUMENT", "additionalAuthenticatedData is not valid base64."
            )
        if method == "encrypt":
            plaintext = b64(body, "plaintext")
            if not plaintext:
                return _google_error(400, "INVALID_ARGUMENT", "plaintext is required.")
            nonce = os.urandom(12)
            ciphertext = b"\x01" + nonce + material[name].encrypt(nonce, plaintext, aad)
            return JSONResponse(
                {
                    "name": f"{name}/cryptoKeyVersions/1",
                    "ciphertext": base64.b64encode(ciphertext).decode(),
                    "verifiedPlaintextCrc32c": True,
                    "verifiedAdditionalAuthenticatedDataCrc32c": True,
                    "protectionLevel": "SOFTWARE",
                }
            )
        if method == "decrypt":
            ciphertext = b64(body, "ciphertext") or b""
            try:
                if ciphertext[:1] != b"\x01":
                    raise ValueError
                plaintext = material[name].decrypt(ciphertext[1:13], ciphertext[13:], aad)
            except (InvalidTag, ValueError):
                return _google_error(
                    400, "INVALID_ARGUMENT", "Decryption failed: the ciphertext is invalid."
                )
            return JSONResponse(
                {
                    "plaintext": base64.b64encode(plaintext).decode(),
                    "usedPrimary": True,
                    "protectionLevel": "SOFTWARE",
                }
            )
        return _google_error(404, "NOT_FOUND", "Method not found.")

    app = Starlette(routes=[Route("/v1/{resource:path}", operate, methods=["POST"])])
    app.state.tokens = accepted
    app.state.calls = calls
    return app
