"""The OpenAI fake's error answers, in the real shape of each family it serves (OpenAI,
Azure OpenAI, Databricks), and the ``fail-*`` models of the shared conventions."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import JSONResponse, Response

ErrorFn = Callable[[int, str, str], Response]  # (status, kind, message) → response


def openai_error(status: int, kind: str, message: str, code: str | None = None) -> Response:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": code}},
        status_code=status,
    )


def azure_error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def databricks_error(status: int, code: str, message: str) -> Response:
    return JSONResponse({"error_code": code, "message": message}, status_code=status)


_FAILURES: dict[str, dict[str, tuple[int, str, str]]] = {
    # model → family → (status, kind or code, message)
    "fail-503": {
        "openai": (
            503,
            "server_error",
            "The engine is currently overloaded, please try again later.",
        ),
        "azure": (
            503,
            "ServiceUnavailable",
            "The service is temporarily unable to process your request. Please try again later.",
        ),
        "databricks": (503, "TEMPORARILY_UNAVAILABLE", "The service is temporarily unavailable."),
    },
    "fail-429": {
        "openai": (429, "requests", "Rate limit reached for requests. Please try again in 0s."),
        "azure": (
            429,
            "429",
            "Requests to the ChatCompletions_Create Operation have "
            "exceeded the rate limit of your current pricing tier. Please retry after "
            "0 seconds.",
        ),
        "databricks": (429, "REQUEST_LIMIT_EXCEEDED", "Exceeded workspace rate limit."),
    },
    "fail-400": {
        "openai": (400, "invalid_request_error", "Invalid request (fail-400)."),
        "azure": (400, "BadRequest", "Invalid request (fail-400)."),
        "databricks": (400, "BAD_REQUEST", "Invalid request (fail-400)."),
    },
}

ERRORS: dict[str, ErrorFn] = {
    "openai": lambda s, k, m: openai_error(s, k, m, "rate_limit_exceeded" if s == 429 else None),
    "azure": azure_error,
    "databricks": databricks_error,
}


def failure(model: str, family: str) -> Response | None:
    spec = _FAILURES.get(model, {}).get(family)
    if spec is None:
        return None
    response = ERRORS[family](*spec)
    if spec[0] == 429:
        response.headers["Retry-After"] = "0"
    return response
