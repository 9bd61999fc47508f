"""Text every store can hold: no NUL and no unpaired surrogate, anywhere in a request.

PostgreSQL refuses NUL in text and a lone surrogate cannot be encoded as UTF-8, so either
one reaching the store was a 500; docs/security.md ("Bad input gets a clear 4xx") wants a
422 naming the field. Request models check every string they hold (``Strict``); path and
query parameters are checked by ``check_request_text``, a dependency of every admin router.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request

from keyhouse.errors import ValidationFailed

_BAD = re.compile("[\x00\ud800-\udfff]")
MESSAGE = "must not contain NUL or unpaired surrogate characters"


def is_bad_text(value: str) -> bool:
    return _BAD.search(value) is not None


def find_bad_text(value: Any) -> bool:
    """True if ``value`` (a string, or a dict or list of them, keys included) holds one."""
    if isinstance(value, str):
        return is_bad_text(value)
    if isinstance(value, dict):
        return any(find_bad_text(k) or find_bad_text(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(find_bad_text(v) for v in value)
    return False


def printable(part: str) -> str:
    """A field name safe to put into an error body (which is UTF-8 JSON)."""
    return _BAD.sub("?", part)


async def check_request_text(request: Request) -> None:
    fields = [
        {"field": printable(name), "message": MESSAGE}
        for name, value in (*request.path_params.items(), *request.query_params.multi_items())
        if isinstance(value, str) and is_bad_text(value)
    ]
    if fields:
        raise ValidationFailed(f"{fields[0]['field']}: {MESSAGE}", fields=fields)
