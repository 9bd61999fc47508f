"""The Gemini fake's error answers: Google's ``{"error": {code, message, status}}`` body,
its ErrorInfo details, and the ``fail-*`` models of the shared conventions (Gemini API
and Vertex AI differ on 429)."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

JSON = dict[str, Any]


def google_error(
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


def error_info(reason: str, service: str, **metadata: str) -> JSON:
    return {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": reason,
        "domain": "googleapis.com",
        "metadata": {"service": service, **metadata},
    }


def failure(model: str, vertex: bool) -> Response | None:
    """The shared fail-* conventions (``slow`` is the routes' to wait out)."""
    if model == "fail-503":
        return google_error(503, "UNAVAILABLE", "The model is overloaded. Please try again later.")
    if model == "fail-429":
        if vertex:
            message = (
                "Resource exhausted. Please try again later. Please refer to "
                "https://cloud.google.com/vertex-ai/generative-ai/docs/"
                "error-code-429 for more details."
            )
            return google_error(429, "RESOURCE_EXHAUSTED", message, headers={"Retry-After": "0"})
        return google_error(
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
        return google_error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.")
    return None
