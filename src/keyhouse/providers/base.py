"""The seam between the gateway and a provider.

A provider adapter turns an OpenAI-shaped request into the provider's wire format, sends
it with the shared send path (``keyhouse.gateway.send``), and turns the answer back into
the OpenAI shape. The conversions live in pure functions beside each adapter; this module
holds what every adapter shares: the call context, upstream error mapping, and secret
redaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from keyhouse.errors import (
    Unsupported,
    UpstreamAuthFailed,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamNotFound,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from keyhouse.gateway.upstream import Timeouts, Upstream
from keyhouse.redaction import SecretIndex

JSON = dict[str, Any]

REDACTED = "[REDACTED]"


@dataclass(frozen=True, slots=True)
class Credential:
    """A decrypted API key, as the gateway hands it to an adapter.

    ``secrets`` never appears in ``repr()``: a credential that ends up in a log line or a
    traceback shows only which key it was.
    """

    key_id: str
    provider: str
    auth_method: str
    secrets: Mapping[str, str] = field(repr=False)
    config: Mapping[str, str]
    version: int = 1

    def redact(self, text: str) -> str:
        return redact(text, self.secrets.values())


def redact(text: str, secrets: Any) -> str:
    """Replace every secret value, and any 8+ character fragment of one, in ``text``."""
    return SecretIndex(secrets).redact(text)


@dataclass(slots=True)
class Call:
    """Everything one upstream request needs besides its body."""

    client: Upstream
    credential: Credential
    model: str
    timeout: Timeouts = field(default_factory=Timeouts)


class ProviderAdapter:
    """Base adapter: a capability a provider lacks answers 501 ``unsupported``."""

    id: str = ""

    async def chat(self, call: Call, request: JSON) -> JSON:
        """``request`` is an OpenAI chat.completions body (no ``stream``); returns a
        ChatCompletion dict."""
        raise Unsupported(f"Provider {self.id!r} does not serve chat completions.")

    async def chat_relayed(self, call: Call, request: JSON) -> JSON | bytes:
        """``chat``; an adapter whose upstream answers in OpenAI's shape returns the
        answer's JSON bytes instead, for the gateway to relay without re-encoding."""
        return await self.chat(call, request)

    def chat_stream(self, call: Call, request: JSON) -> AsyncIterator[JSON]:
        """Yields OpenAI ``chat.completion.chunk`` dicts; the last one carries ``usage``
        when the provider reports it."""
        raise Unsupported(f"Provider {self.id!r} does not stream chat completions.")

    def chat_stream_relayed(
        self, call: Call, request: JSON, include_usage: bool, on_usage: Callable[[JSON], None]
    ) -> AsyncIterator[bytes] | None:
        """For an upstream that streams in OpenAI's own framing: the caller's SSE bytes,
        relayed as they arrive (``on_usage`` gets the usage chunk's ``usage``); None when
        the adapter converts, and ``chat_stream`` serves instead."""
        return None

    async def embeddings(self, call: Call, request: JSON) -> JSON:
        """``request`` is an OpenAI embeddings body; returns an OpenAI embeddings list."""
        raise Unsupported(f"Provider {self.id!r} does not serve embeddings.")

    async def verify(self, call: Call) -> None:
        """Makes the provider's cheapest authenticated call; raises UpstreamError."""
        raise Unsupported(f"Provider {self.id!r} cannot verify a credential.")


# --- upstream error answers -----------------------------------------------------------


def _upstream_message(body: str) -> str:
    """The provider's own error message, when its body has one in a known shape."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:500]
    if isinstance(data, list) and data:
        data = data[0]
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("Message")
            if isinstance(msg, str):
                return msg[:500]
        elif isinstance(err, str):
            return err[:500]
        for key in ("message", "Message", "detail"):
            if isinstance(data.get(key), str):
                return str(data[key])[:500]
    return body[:500]


def upstream_error(
    status: int, body: str, credential: Credential, retry_after: float | None = None
) -> UpstreamError:
    """Map an upstream error answer to our tree, with the credential scrubbed out."""
    # Redact the whole body before cutting it: a secret straddling the cut would survive.
    message = _upstream_message(credential.redact(body)) or f"Upstream answered {status}."
    message = f"Upstream ({credential.provider}) answered {status}: {message}"
    cls: type[UpstreamError]
    if status in (401, 403):
        cls = UpstreamAuthFailed
    elif status == 404:
        cls = UpstreamNotFound
    elif status == 429:
        cls = UpstreamRateLimited
    elif status in (408, 504):
        cls = UpstreamTimeout
    elif status >= 500:
        cls = UpstreamUnavailable
    elif 400 <= status < 500:
        cls = UpstreamBadRequest
    else:
        cls = UpstreamError
    return cls(message, upstream_status=status, retry_after=retry_after)


class TokenCache:
    """Caches short-lived bearer tokens (Entra ID, Google OAuth) per credential version,
    so a token is fetched once per hour, not once per request."""

    def __init__(self, margin_seconds: float = 120.0) -> None:
        self._tokens: dict[tuple[str, int], tuple[str, float]] = {}
        self._margin = margin_seconds

    def get(self, credential: Credential) -> str | None:
        hit = self._tokens.get((credential.key_id, credential.version))
        if hit and hit[1] - self._margin > time.monotonic():
            return hit[0]
        return None

    def put(self, credential: Credential, token: str, expires_in: float) -> None:
        # Drop tokens of older versions of this key: an edited credential must not
        # keep working through a cached token.
        for k in [k for k in self._tokens if k[0] == credential.key_id]:
            del self._tokens[k]
        self._tokens[(credential.key_id, credential.version)] = (
            token,
            time.monotonic() + expires_in,
        )
