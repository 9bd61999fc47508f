"""The web UI's sign-in session, as both planes read it.

The session cookie counts only on requests that also carry ``X-Keyhouse-Client: web``:
a cross-site form cannot set a custom header, and a cross-site script that tries
triggers a CORS preflight this server never approves. That is the CSRF defence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from keyhouse.shared.principal import Principal

SESSION_COOKIE = "keyhouse_session"
CLIENT_HEADER = "x-keyhouse-client"

WEB_SESSION = Principal(token_id="web-session", name="web-session", is_admin=True)


class HasCookiesAndHeaders(Protocol):
    @property
    def cookies(self) -> Mapping[str, str]: ...

    @property
    def headers(self) -> Any: ...


def session_checker(
    lookup: Callable[[str], object | None],
) -> Callable[[HasCookiesAndHeaders], Principal | None]:
    """The gateway's session check: the UI's session as a caller (the "Try it" panel),
    given the control plane's session lookup (which reads the database: call it off the
    event loop)."""

    def check(request: HasCookiesAndHeaders) -> Principal | None:
        session_id = request.cookies.get(SESSION_COOKIE)
        if not session_id or request.headers.get(CLIENT_HEADER) != "web":
            return None
        return WEB_SESSION if lookup(session_id) is not None else None

    return check
