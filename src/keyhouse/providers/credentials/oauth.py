"""Tokens that are not an AWS credential: Google ADC, Azure managed identity, and the
Databricks OAuth machine-to-machine (client credentials) exchange."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from keyhouse.cloud.azure import ManagedIdentityTokens
from keyhouse.cloud.google import GoogleTokens
from keyhouse.errors import KeyhouseError, UpstreamError
from keyhouse.gateway.send import send
from keyhouse.gateway.upstream import Timeouts
from keyhouse.providers.base import Call, Credential

COGNITIVE_SCOPE = "https://cognitiveservices.azure.com/.default"
TOKEN_TIMEOUT = 5.0  # seconds, per connect and per read, at most
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


async def databricks_token(call: Call) -> tuple[str, float]:
    """``POST {host}/oidc/v1/token`` with the service principal's id and secret (HTTP
    Basic), ``grant_type=client_credentials``, ``scope=all-apis``.

    The workspace URL is admin input, so the exchange goes through the shared upstream
    client like every other request the key makes: the URL policy judges every address
    the name resolves to at connect time (DNS rebinding), and no redirect is followed."""
    from keyhouse.providers.openai import _host

    credential = call.credential
    basic = base64.b64encode(
        f"{credential.config.get('client_id', '')}:"
        f"{credential.secrets.get('client_secret', '')}".encode()
    ).decode()
    bounded = dataclasses.replace(
        call,
        timeout=Timeouts(
            read=min(call.timeout.read, TOKEN_TIMEOUT),
            connect=min(call.timeout.connect, TOKEN_TIMEOUT),
        ),
    )
    # Its errors (refused URL, timeout, error status) are KeyhouseErrors with safe
    # messages; the cache turns each into a 502 naming the auth method.
    reply = await send(
        bounded,
        "POST",
        f"{_host(credential)}/oidc/v1/token",
        form={"grant_type": "client_credentials", "scope": "all-apis"},
        headers={"Accept": "application/json", "Authorization": f"Basic {basic}"},
        on_error=_token_error,
    )
    try:
        data: Any = json.loads(reply.body)
    except ValueError:
        data = None
    token = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise KeyhouseError("the workspace token endpoint sent no access token.")
    try:
        lifetime = float(data.get("expires_in") or 3600)
    except (TypeError, ValueError):
        lifetime = 3600.0
    return token, lifetime


def _token_error(
    status: int, body: str, credential: Credential, retry_after: float | None = None
) -> UpstreamError:
    """The endpoint's OAuth error (``{"error": ..., "error_description": ...}``)."""
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    detail = ": ".join(
        str(data[k])
        for k in ("error", "error_description")
        if isinstance(data, dict) and data.get(k)
    )
    return UpstreamError(
        f"the workspace token endpoint answered {status}"
        f"{': ' + credential.redact(detail)[:300] if detail else ''}.",
        upstream_status=status,
    )
