"""Tokens that are not an AWS credential: Google ADC, Azure managed identity, and the
Databricks OAuth machine-to-machine (client credentials) exchange."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import httpx

from keyhouse.cloud.azure import ManagedIdentityTokens
from keyhouse.cloud.google import GoogleTokens
from keyhouse.errors import KeyhouseError
from keyhouse.providers.base import Credential

COGNITIVE_SCOPE = "https://cognitiveservices.azure.com/.default"
S = TypeVar("S")


class _PerKey(Generic[S]):
    """One identity client per key version: a client reads its environment (which
    metadata endpoint, which identity) when it is made, and an edited key starts anew."""

    def __init__(self, make: Callable[[Credential], S]) -> None:
        self._make = make
        self._by_key: dict[str, tuple[int, S]] = {}
        self._lock = threading.Lock()

    def get(self, credential: Credential) -> S:
        with self._lock:
            hit = self._by_key.get(credential.key_id)
            if hit is None or hit[0] != credential.version:
                hit = self._by_key[credential.key_id] = (credential.version, self._make(credential))
            return hit[1]


class AdcTokens:
    """The server's Application Default Credentials."""

    def __init__(self, timeout: float = 5.0) -> None:
        self._clients = _PerKey(lambda _: GoogleTokens(timeout))

    def __call__(self, credential: Credential) -> tuple[str, float]:
        return self._clients.get(credential).token()


class ManagedIdentity:
    """The system-assigned identity, or the user-assigned one the key names."""

    def __init__(self, timeout: float = 5.0) -> None:
        self._clients = _PerKey(
            lambda c: ManagedIdentityTokens(c.secrets.get("client_id") or None, timeout)
        )

    def __call__(self, credential: Credential) -> tuple[str, float]:
        return self._clients.get(credential).token(COGNITIVE_SCOPE)


def databricks_token(credential: Credential, timeout: float = 5.0) -> tuple[str, float]:
    """``POST {host}/oidc/v1/token`` with the service principal's id and secret (HTTP
    Basic), ``grant_type=client_credentials``, ``scope=all-apis``."""
    from keyhouse.providers.openai import _host

    try:
        response = httpx.post(
            f"{_host(credential)}/oidc/v1/token",
            timeout=timeout,
            follow_redirects=False,
            auth=(
                credential.config.get("client_id", ""),
                credential.secrets.get("client_secret", ""),
            ),
            data={"grant_type": "client_credentials", "scope": "all-apis"},
            headers={"Accept": "application/json"},
        )
    except httpx.HTTPError as exc:
        raise KeyhouseError(
            f"the workspace token endpoint could not be reached ({type(exc).__name__})."
        ) from None
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code >= 300 or not isinstance(data, dict):
        detail = ": ".join(
            str(data[k])
            for k in ("error", "error_description")
            if isinstance(data, dict) and data.get(k)
        )
        raise KeyhouseError(
            f"the workspace token endpoint answered "
            f"{response.status_code}{': ' + detail[:300] if detail else ''}."
        )
    token = data.get("access_token")
    if not isinstance(token, str) or not token:
        raise KeyhouseError("the workspace token endpoint sent no access token.")
    return token, float(data.get("expires_in") or 3600)
