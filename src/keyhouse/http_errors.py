"""The one place errors become HTTP responses.

Admin routes answer ``{"error": {"code", "message", ...}}`` (gateway routes never reach
this app: ``gateway.dispatch`` renders their envelopes). Unexpected exceptions answer a
generic 500: their text is never shown, and only their
type is logged, since a foreign exception's message may carry a value.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from keyhouse.errors import (
    BadRequest,
    KeyhouseError,
    MethodNotAllowed,
    NotFound,
    ValidationFailed,
)
from keyhouse.text_rules import printable

log = logging.getLogger("keyhouse.http")


def render(request: Request, exc: KeyhouseError) -> JSONResponse:
    headers: dict[str, str] = {}
    if exc.status == 401:
        headers["www-authenticate"] = "Bearer"
    headers.update(exc.headers)
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


def _validation_fields(errors: list[Any]) -> list[dict[str, str]]:
    fields = []
    for err in errors:
        loc = [
            printable(str(p)) for p in err.get("loc", ()) if p not in ("body", "query", "header")
        ]
        # Only the location and pydantic's message: never the offending input, which may
        # be a secret.
        fields.append({"field": ".".join(loc) or "body", "message": str(err.get("msg", ""))})
    return fields


def install(app: FastAPI) -> None:
    @app.exception_handler(KeyhouseError)
    async def _keyhouse(request: Request, exc: KeyhouseError) -> JSONResponse:
        if exc.status >= 500:
            log.warning("%s %s -> %s %s", request.method, request.url.path, exc.status, exc.code)
        return render(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return render(request, BadRequest("The request body is not valid JSON."))
        fields = _validation_fields(errors)
        first = fields[0] if fields else {"field": "body", "message": "invalid"}
        return render(
            request, ValidationFailed(f"{first['field']}: {first['message']}", fields=fields)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            return render(request, NotFound("No such route."))
        if exc.status_code == 405:
            return render(request, MethodNotAllowed())
        return JSONResponse(
            {"error": {"code": "http_error", "message": "Request failed."}},
            status_code=exc.status_code,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return render(request, KeyhouseError())
