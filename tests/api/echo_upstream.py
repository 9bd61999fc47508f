"""A hostile upstream: every request answers 401 quoting the secrets it was told about
(whole, first 14 and last 10 characters, and in a response header), as a real provider's
error text sometimes does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from keyhouse.testing.fakes.server import serve


def pieces(secret: str) -> list[str]:
    """What of a secret must never show: the secret itself, or for a service-account
    JSON its private key's base64 lines."""
    try:
        data = json.loads(secret)
    except ValueError:
        return [secret]
    return [line for line in str(data["private_key"]).splitlines() if "-----" not in line]


def leaked(text: str, secrets: list[str]) -> list[str]:
    """Every 8-character window of a secret that ``text`` contains."""
    return [
        p[i : i + 8]
        for s in secrets
        for p in pieces(s)
        for i in range(len(p) - 7)
        if p[i : i + 8] in text
    ]


def _quote(secrets: list[str]) -> str:
    parts = [f"{p[:14]}...{p[-10:]} (full: {p})" for s in secrets for p in pieces(s)]
    return "Incorrect API key provided: " + "; ".join(parts)


@contextmanager
def echo_upstream(secrets: list[str]) -> Iterator[str]:
    """``secrets`` is read on each request: fill it once the key's body is built."""

    async def answer(request: Request) -> JSONResponse:
        text = _quote(secrets)
        body = {
            "error": {"message": text, "type": "invalid_request_error", "code": "invalid_api_key"},
            "message": text,
            "error_description": text,
        }
        return JSONResponse(body, status_code=401, headers={"x-echo": pieces(secrets[0])[0][:200]})

    app = Starlette(
        routes=[Route("/{path:path}", answer, methods=["GET", "POST", "PUT", "DELETE"])]
    )
    with serve(app) as server:
        yield server.url
