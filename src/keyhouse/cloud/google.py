"""Google Application Default Credentials, refreshed through httpx.

google-auth needs a transport to refresh tokens (the metadata server, an STS exchange, a
service account's token URI); its own are ``requests``- or ``urllib3``-based. This one is
a small adapter over a sync ``httpx.Client`` with a timeout on every call, so a metadata
server that does not answer fails the refresh instead of hanging it.
"""

from __future__ import annotations

import calendar
import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx
from google.auth import exceptions as google_exceptions
from google.auth import transport

SCOPE = "https://www.googleapis.com/auth/cloud-platform"


class _Response(transport.Response):  # type: ignore[misc]
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def data(self) -> bytes:
        return self._response.content


class HttpxRequest(transport.Request):  # type: ignore[misc]
    """google-auth's transport interface over httpx (no redirects, bounded time)."""

    def __init__(self, timeout: float = 5.0) -> None:
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)
        self._timeout = timeout

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> _Response:
        try:
            response = self._client.request(
                method,
                url,
                content=body,
                headers=headers,
                timeout=min(timeout or self._timeout, self._timeout),
            )
        except httpx.HTTPError as exc:
            raise google_exceptions.TransportError(  # type: ignore[no-untyped-call]
                type(exc).__name__
            ) from None
        return _Response(response)


class GoogleTokens:
    """Bearer tokens from google.auth.default(): GOOGLE_APPLICATION_CREDENTIALS, workload
    identity federation, gcloud's ADC file or the GCE / GKE metadata server. Thread-safe;
    a token is refreshed when it has less than ``margin`` seconds left."""

    def __init__(self, timeout: float = 5.0, margin: float = 300.0) -> None:
        self._request = HttpxRequest(timeout)
        self._credentials: Any = None
        self._lock = threading.Lock()
        self._margin = margin

    def token(self) -> tuple[str, float]:
        """(access token, seconds it stays valid); raises google.auth's errors."""
        with self._lock:
            if self._credentials is None:
                import google.auth

                self._credentials, _ = google.auth.default(  # type: ignore[no-untyped-call]
                    scopes=[SCOPE], request=self._request
                )
            creds = self._credentials
            left = _seconds_left(creds)
            if not creds.token or left < self._margin:
                creds.refresh(self._request)
                left = _seconds_left(creds)
            return str(creds.token), left


def _seconds_left(creds: Any) -> float:
    expiry = getattr(creds, "expiry", None)
    if expiry is None:
        return 3600.0 if creds.token else 0.0
    # google-auth keeps expiry as a naive UTC datetime.
    return calendar.timegm(expiry.timetuple()) - time.time()
