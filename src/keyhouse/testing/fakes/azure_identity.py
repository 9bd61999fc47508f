"""Fakes of Azure's managed-identity endpoint (IMDS) and of Key Vault keys, on 127.0.0.1.

IMDS, as azure-identity reaches it (``AZURE_POD_IDENTITY_AUTHORITY_HOST`` points it
here): ``GET /metadata/identity/oauth2/token`` needs the ``Metadata: true`` header and
``api-version``; ``resource`` names the audience; ``client_id`` picks a user-assigned
identity, which must be one this host has (400 ``invalid_request`` otherwise). Answers
carry IMDS's string-typed fields. Tokens are recorded in ``app.state.tokens`` (token ->
(audience, identity)) and handed to ``publish[audience]`` — the token sets of services
that accept that audience (the OpenAI fake's Azure routes, the Key Vault fake).

Key Vault: ``POST /keys/{name}[/{version}]/wrapkey|unwrapkey?api-version=7.x`` with
``{"alg": "RSA-OAEP-256", "value": base64url}``, real RSA-OAEP-256 under 2048-bit keys only
the fake holds. No token → 401 with Key Vault's ``WWW-Authenticate`` challenge; a token for
another audience → 401 ``AKV10022``; an unknown key → 404 ``KeyNotFound``; a value that does
not unwrap → 400 ``BadParameter``. ``rotate(name)`` adds a key version, as Key Vault's
rotation does.
"""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from keyhouse.testing.fakes.google_cloud import _record
from keyhouse.testing.fakes.server import Recorded

SYSTEM = "system-assigned"
VAULT_AUDIENCE = "https://vault.azure.net"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def create_imds_app(
    user_assigned: tuple[str, ...] = (),
    publish: dict[str, set[str]] | None = None,
    lifetime: int = 86399,
) -> Starlette:
    tokens: dict[str, tuple[str, str]] = {}
    calls: list[Recorded] = []

    def error(status: int, code: str, description: str) -> JSONResponse:
        return JSONResponse({"error": code, "error_description": description}, status_code=status)

    async def token(request: Request) -> Response:
        await _record(request, calls)
        if request.headers.get("metadata", "").lower() != "true":
            return error(400, "invalid_request", "Required metadata header not specified")
        query = request.query_params
        if not query.get("api-version"):
            return error(400, "invalid_request", "Required query variable 'api-version' is missing")
        resource = query.get("resource", "").rstrip("/")
        if not resource:
            return error(400, "invalid_request", "Required query variable 'resource' is missing")
        client_id = query.get("client_id") or query.get("msi_res_id") or ""
        if client_id and client_id not in user_assigned:
            return error(400, "invalid_request", "Identity not found")
        issued = "eyJ0eXAiOiJKV1Qi.fake-" + secrets.token_urlsafe(24)
        identity = client_id or SYSTEM
        tokens[issued] = (resource, identity)
        sink = (publish or {}).get(resource)
        if sink is not None:
            sink.add(issued)
        now = int(time.time())
        return JSONResponse(
            {
                "access_token": issued,
                "client_id": client_id or str(uuid.uuid4()),
                "expires_in": str(lifetime),
                "expires_on": str(now + lifetime),
                "ext_expires_in": str(lifetime),
                "not_before": str(now),
                "resource": resource,
                "token_type": "Bearer",
            }
        )

    app = Starlette(routes=[Route("/metadata/identity/oauth2/token", token, methods=["GET"])])
    app.state.tokens = tokens
    app.state.calls = calls
    return app


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def create_keyvault_app(
    keys: tuple[str, ...] = ("keyhouse-kek",), tokens: set[str] | None = None
) -> Starlette:
    accepted: set[str] = tokens if tokens is not None else set()
    versions: dict[str, list[tuple[str, rsa.RSAPrivateKey]]] = {}
    calls: list[Recorded] = []
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)

    def rotate(name: str) -> str:
        version = uuid.uuid4().hex
        versions.setdefault(name, []).append(
            (version, rsa.generate_private_key(public_exponent=65537, key_size=2048))
        )
        return version

    for name in keys:
        rotate(name)

    def error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
        return JSONResponse(
            {"error": {"code": code, "message": message}}, status_code=status, headers=headers
        )

    async def operate(request: Request) -> Response:
        recorded = await _record(request, calls)
        base = f"{request.url.scheme}://{request.url.netloc}"
        if not request.query_params.get("api-version", "").startswith("7."):
            return error(
                400,
                "BadParameter",
                "The 'api-version' query parameter is missing or not supported.",
            )
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented:
            return error(
                401,
                "Unauthorized",
                "AKV10000: Request is missing a Bearer or PoP token.",
                **{
                    "WWW-Authenticate": (
                        f'Bearer authorization="https://login.microsoftonline.com/'
                        f'{TENANT}", resource="{VAULT_AUDIENCE}"'
                    )
                },
            )
        if presented not in accepted:
            return error(
                401,
                "Unauthorized",
                f"AKV10022: Invalid audience. Expected {VAULT_AUDIENCE}, found: another audience.",
            )
        parts = request.path_params["path"].strip("/").split("/")
        name, operation = parts[0], parts[-1].lower()
        version = parts[1] if len(parts) == 3 else None
        held = versions.get(name)
        chosen = (
            next((k for v, k in held if v == version), None)
            if held and version
            else (held[-1][1] if held else None)
        )
        if held is None or chosen is None or len(parts) not in (2, 3):
            return error(
                404,
                "KeyNotFound",
                f"A key with (name/id) {name}"
                f"{'/' + version if version else ''} was not found in this key vault.",
            )
        version = version or held[-1][0]
        body: Any = recorded.json if isinstance(recorded.json, dict) else {}
        if body.get("alg") != "RSA-OAEP-256":
            return error(400, "BadParameter", "Unsupported or missing alg.")
        try:
            value = _unb64url(str(body.get("value") or ""))
        except ValueError:
            return error(400, "BadParameter", "value is not base64url.")
        kid = f"{base}/keys/{name}/{version}"
        if operation == "wrapkey":
            wrapped = chosen.public_key().encrypt(value, oaep)
            return JSONResponse({"kid": kid, "value": _b64url(wrapped)})
        if operation == "unwrapkey":
            try:
                plain = chosen.decrypt(value, oaep)
            except ValueError:
                return error(400, "BadParameter", "Bad Request")
            return JSONResponse({"kid": kid, "value": _b64url(plain)})
        return error(404, "NotFound", "Operation not found.")

    app = Starlette(routes=[Route("/keys/{path:path}", operate, methods=["POST"])])
    app.state.tokens = accepted
    app.state.calls = calls
    app.state.rotate = rotate
    return app
