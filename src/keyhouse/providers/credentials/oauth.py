"""Tokens that are not an AWS credential: Google ADC, Azure managed identity, and the
Databricks OAuth machine-to-machine (client credentials) exchange."""

from __future__ import annotations

import threading

import httpx

from keyhouse.cloud.azure import ManagedIdentityTokens
from keyhouse.cloud.google import GoogleTokens
from keyhouse.errors import KeyhouseError
from keyhouse.providers.base import Credential

COGNITIVE_SCOPE = "https://cognitiveservices.azure.com/.default"


class AdcTokens:
    """One ADC identity per server; the per-key cache sits above it."""

    def __init__(self, timeout: float = 5.0) -> None:
        self._tokens = GoogleTokens(timeout)

    def __call__(self, credential: Credential) -> tuple[str, float]:
        return self._tokens.token()


class ManagedIdentity:
    """The system-assigned identity, or the user-assigned one the key names."""

    def __init__(self, timeout: float = 5.0) -> None:
        self._timeout = timeout
        self._by_client: dict[str, ManagedIdentityTokens] = {}
        self._lock = threading.Lock()

    def __call__(self, credential: Credential) -> tuple[str, float]:
        client_id = credential.secrets.get("client_id", "")
        with self._lock:
            tokens = self._by_client.get(client_id)
            if tokens is None:
                tokens = self._by_client[client_id] = ManagedIdentityTokens(
                    client_id or None, self._timeout)
        return tokens.token(COGNITIVE_SCOPE)


def databricks_token(credential: Credential, timeout: float = 5.0) -> tuple[str, float]:
    """``POST {host}/oidc/v1/token`` with the service principal's id and secret (HTTP
    Basic), ``grant_type=client_credentials``, ``scope=all-apis``."""
    from keyhouse.providers.openai import _host

    try:
        response = httpx.post(
            f"{_host(credential)}/oidc/v1/token", timeout=timeout, follow_redirects=False,
            auth=(credential.config.get("client_id", ""),
                  credential.secrets.get("client_secret", "")),
            data={"grant_type": "client_credentials", "scope": "all-apis"},
            headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise KeyhouseError(f"the workspace token endpoint could not be reached "
                            f"({type(exc).__name__}).") from None
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code >= 300 or not isinstance(data, dict):
        detail = ": ".join(str(data[k]) for k in ("error", "error_description")
                           if isinstance(data, dict) and data.get(k))
        raise KeyhouseError(f"the workspace token endpoint answered "
                            f"{response.status_code}{': ' + detail[:300] if detail else ''}.")
    token = data.get("access_token")
    if not isinstance(token, str) or not token:
        raise KeyhouseError("the workspace token endpoint sent no access token.")
    return token, float(data.get("expires_in") or 3600)
