"""How gateway errors look to callers: the OpenAI and the Anthropic error envelopes.

Pure functions from the one exception tree to ``(status, body)``. The gateway's
dispatcher picks one by path (``/v1/messages`` → Anthropic, other ``/v1/*`` → OpenAI);
the stream writers use the same functions for an error that happens after the first byte. Both SDKs
choose their exception class from the HTTP status, so the status is what matters most;
``type`` follows each vendor's own vocabulary and ``code`` is our stable machine code.
"""

from __future__ import annotations

from typing import Any

from keyhouse.errors import KeyhouseError

JSON = dict[str, Any]


_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    501: "invalid_request_error",
}

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "request_too_large",
    422: "invalid_request_error",
    429: "rate_limit_error",
    501: "invalid_request_error",
    503: "overloaded_error",
    504: "timeout_error",
}


def _as_keyhouse(exc: BaseException) -> KeyhouseError:
    # Anything outside the tree is a bug: show the generic 500, never its text.
    return exc if isinstance(exc, KeyhouseError) else KeyhouseError()


def openai_error(exc: BaseException) -> tuple[int, JSON]:
    """``(status, {"error": {"message", "type", "param", "code"}})``."""
    err = _as_keyhouse(exc)
    param = err.details.get("param")
    return err.status, {
        "error": {
            "message": err.message,
            "type": _OPENAI_TYPES.get(err.status, "api_error"),
            "param": param if isinstance(param, str) else None,
            "code": err.code,
        }
    }


def anthropic_error(exc: BaseException) -> tuple[int, JSON]:
    """``(status, {"type": "error", "error": {"type", "message"}})``."""
    err = _as_keyhouse(exc)
    return err.status, {
        "type": "error",
        "error": {
            "type": _ANTHROPIC_TYPES.get(err.status, "api_error"),
            "message": err.message,
        },
    }
