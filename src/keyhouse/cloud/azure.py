"""Tokens of the server's Azure managed identity (system- or user-assigned), through
azure-identity's ManagedIdentityCredential: IMDS on a VM or AKS, the App Service /
Functions / Container Apps identity endpoint, Azure Arc — whichever the host offers."""

from __future__ import annotations

import threading
from typing import Any


class ManagedIdentityTokens:
    def __init__(self, client_id: str | None = None, timeout: float = 5.0) -> None:
        self._client_id = client_id or None
        self._timeout = timeout
        self._credential: Any = None
        self._lock = threading.Lock()

    def token(self, scope: str) -> tuple[str, float]:
        """(access token, seconds it stays valid); raises azure-core's errors. The
        credential caches tokens itself and refreshes them before they expire."""
        import time

        with self._lock:
            if self._credential is None:
                from azure.identity import ManagedIdentityCredential

                kwargs: dict[str, Any] = {
                    "connection_timeout": self._timeout,
                    "read_timeout": self._timeout,
                    "retry_total": 1,
                }
                if self._client_id:
                    kwargs["client_id"] = self._client_id
                self._credential = ManagedIdentityCredential(**kwargs)
            credential = self._credential
        access = credential.get_token(scope)
        return str(access.token), float(access.expires_on) - time.time()
