"""A fake of HashiCorp Vault's Transit secrets engine, on 127.0.0.1.

``POST /v1/{mount}/encrypt/{key}`` and ``/v1/{mount}/decrypt/{key}`` with the token in
``X-Vault-Token`` (403 ``permission denied`` without the right one, as Vault answers),
base64 ``plaintext`` and ``associated_data``; ciphertexts are ``vault:v1:...`` made with
real AES-256-GCM under keys only the fake holds, so tampered data or other associated
data fails (400 ``cipher: message authentication failed``). Errors are Vault's
``{"errors": [...]}``; an unknown key is 400 ``encryption key not found``.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from keyhouse.testing.fakes.google_cloud import _record
from keyhouse.testing.fakes.server import Recorded


def create_app(
    token: str,
    keys: tuple[str, ...] = ("keyhouse-kek",),
    mount: str = "transit",
    namespace: str | None = None,
) -> Starlette:
    material = {name: AESGCM(os.urandom(32)) for name in keys}
    calls: list[Recorded] = []

    def errors(status: int, *messages: str) -> JSONResponse:
        return JSONResponse({"errors": list(messages)}, status_code=status)

    def b64(value: object) -> bytes | None:
        try:
            return base64.b64decode(str(value or ""), validate=True)
        except (binascii.Error, ValueError):
            return None

    async def operate(request: Request) -> Response:
        recorded = await _record(request, calls)
        if request.headers.get("x-vault-token") != token or (
            namespace and request.headers.get("x-vault-namespace") != namespace
        ):
            return errors(403, "permission denied")
        if request.path_params["mount"] != mount:
            return errors(
                404,
                f'no handler for route "{request.path_params["mount"]}/'
                f'{request.path_params["op"]}/{request.path_params["key"]}"',
            )
        aead = material.get(request.path_params["key"])
        if aead is None:
            return errors(400, "encryption key not found")
        body = recorded.json if isinstance(recorded.json, dict) else {}
        aad = b64(body.get("associated_data"))
        if aad is None:
            return errors(400, "failed to base64-decode associated_data")
        if request.path_params["op"] == "encrypt":
            plaintext = b64(body.get("plaintext"))
            if plaintext is None:
                return errors(400, "failed to base64-decode plaintext")
            nonce = os.urandom(12)
            sealed = base64.b64encode(nonce + aead.encrypt(nonce, plaintext, aad)).decode()
            return JSONResponse({"data": {"ciphertext": f"vault:v1:{sealed}", "key_version": 1}})
        if request.path_params["op"] == "decrypt":
            text = str(body.get("ciphertext") or "")
            raw = b64(text.removeprefix("vault:v1:")) if text.startswith("vault:v1:") else None
            if not raw:
                return errors(400, "invalid ciphertext: no prefix")
            try:
                plaintext = aead.decrypt(raw[:12], raw[12:], aad)
            except (InvalidTag, ValueError):
                return errors(400, "cipher: message authentication failed")
            return JSONResponse({"data": {"plaintext": base64.b64encode(plaintext).decode()}})
        return errors(405, "unsupported operation")

    app = Starlette(routes=[Route("/v1/{mount}/{op}/{key}", operate, methods=["POST"])])
    app.state.calls = calls
    return app
