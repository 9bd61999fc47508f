"""Azure OpenAI: OpenAI's wire format behind deployment URLs and Azure's own auth.

Two auth methods: the resource's ``api-key`` header, or an Entra ID service principal
(OAuth2 client credentials) whose bearer token is cached until shortly before it expires,
so the token endpoint sees one request an hour per key, not one per chat.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from urllib.parse import quote

from keyhouse.errors import UpstreamAuthFailed, UpstreamBadRequest, UpstreamError
from keyhouse.gateway.send import object_bytes, send, send_json
from keyhouse.providers.base import (
    JSON,
    Call,
    Credential,
    ProviderAdapter,
    TokenCache,
    redact,
    upstream_error,
)
from keyhouse.providers.catalog import ProviderSpec
from keyhouse.providers.openai import responses_events, stream_chunks

ENTRA_AUTHORITY = "https://login.microsoftonline.com"
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"
# Azure OpenAI has the Responses API from this API version on; a key on an older one is
# served by translating to chat completions.
RESPONSES_SINCE = "2025-03-01"


class AzureOpenAIAdapter(ProviderAdapter):
    def __init__(self, spec: ProviderSpec) -> None:
        self.spec = spec
        self.id = spec.id
        self.tokens = TokenCache()
        # One token fetch per key at a time: a cold start under load must not send a
        # burst of identical requests to Entra ID (which throttles them).
        self._locks: dict[str, asyncio.Lock] = {}

    # --- URLs -------------------------------------------------------------------------

    @staticmethod
    def _endpoint(credential: Credential) -> str:
        endpoint = credential.config.get("endpoint_url", "").rstrip("/")
        if not endpoint:
            raise UpstreamBadRequest("The Azure OpenAI key has no endpoint URL configured.")
        # People paste the endpoint with the /openai suffix the portal sometimes shows.
        return endpoint.removesuffix("/openai")

    @staticmethod
    def _api_version(credential: Credential) -> str:
        return quote(credential.config.get("api_version") or "2024-10-21", safe="")

    def _deployment_url(self, credential: Credential, model: str, operation: str) -> str:
        deployment = quote(credential.config.get("deployment") or model, safe="")
        return (
            f"{self._endpoint(credential)}/openai/deployments/{deployment}/{operation}"
            f"?api-version={self._api_version(credential)}"
        )

    # --- auth -------------------------------------------------------------------------

    async def _auth_headers(self, call: Call) -> tuple[dict[str, str], str | None]:
        """The auth header, and the bearer token when there is one (to redact it)."""
        credential = call.credential
        if credential.auth_method != "azure_entra_id":
            return {"api-key": credential.secrets.get("api_key", "")}, None
        token = await self._token(call)
        return {"Authorization": f"Bearer {token}"}, token

    async def _token(self, call: Call) -> str:
        credential = call.credential
        token = self.tokens.get(credential)
        if token:
            return token
        lock = self._locks.setdefault(credential.key_id, asyncio.Lock())
        async with lock:
            token = self.tokens.get(credential)  # another request may have fetched it
            if token:
                return token
            token, expires_in = await self._fetch_token(call)
            self.tokens.put(credential, token, expires_in)
            return token

    async def _fetch_token(self, call: Call) -> tuple[str, float]:
        credential = call.credential
        authority = (credential.config.get("authority_url") or ENTRA_AUTHORITY).rstrip("/")
        tenant = quote(credential.config.get("tenant_id", ""), safe="")
        reply = await send(
            call,
            "POST",
            f"{authority}/{tenant}/oauth2/v2.0/token",
            form={
                "grant_type": "client_credentials",
                "client_id": credential.config.get("client_id", ""),
                "client_secret": credential.secrets.get("client_secret", ""),
                "scope": ENTRA_SCOPE,
            },
            on_error=_entra_error,
        )
        try:
            data = json.loads(reply.body)
            return str(data["access_token"]), float(data.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise UpstreamError("Entra ID answered without an access token.") from None

    def _forget_token(self, credential: Credential) -> None:
        # An expired entry is a miss, so the next request fetches a fresh token.
        self.tokens.put(credential, "", 0.0)

    async def _post(self, call: Call, url: str, body: JSON) -> JSON:
        headers, token = await self._auth_headers(call)
        try:
            return await send_json(call, "POST", url, json=body, headers=headers)
        except UpstreamError as exc:
            raise self._scrubbed(call, exc, token) from None

    def _scrubbed(self, call: Call, exc: UpstreamError, token: str | None) -> UpstreamError:
        """The bearer token is not one of the key's stored secrets, so redact it here;
        and a token Azure refused is dropped rather than reused for an hour."""
        if token is not None:
            exc.message = redact(exc.message, [token])
            exc.args = (exc.message,)
            if isinstance(exc, UpstreamAuthFailed):
                self._forget_token(call.credential)
        return exc

    # --- the adapter ------------------------------------------------------------------

    async def chat(self, call: Call, request: JSON) -> JSON:
        url = self._deployment_url(call.credential, call.model, "chat/completions")
        return await self._post(call, url, {**request, "model": call.model})

    async def chat_relayed(self, call: Call, request: JSON) -> bytes:
        """Azure answers in OpenAI's shape: relay its bytes (see ``OpenAIAdapter``)."""
        url = self._deployment_url(call.credential, call.model, "chat/completions")
        headers, token = await self._auth_headers(call)
        try:
            reply = await send(
                call, "POST", url, json={**request, "model": call.model}, headers=headers
            )
            return object_bytes(call, reply.body)
        except UpstreamError as exc:
            raise self._scrubbed(call, exc, token) from None

    async def chat_stream(self, call: Call, request: JSON) -> AsyncIterator[JSON]:
        url = self._deployment_url(call.credential, call.model, "chat/completions")
        body = {
            **request,
            "model": call.model,
            "stream": True,
            "stream_options": {**(request.get("stream_options") or {}), "include_usage": True},
        }
        headers, token = await self._auth_headers(call)
        try:
            async for chunk in stream_chunks(call, url, body, headers):
                yield chunk
        except UpstreamError as exc:
            raise self._scrubbed(call, exc, token) from None

    async def embeddings(self, call: Call, request: JSON) -> JSON:
        url = self._deployment_url(call.credential, call.model, "embeddings")
        return await self._post(call, url, {**request, "model": call.model})

    async def verify(self, call: Call) -> None:
        url = (
            f"{self._endpoint(call.credential)}/openai/models"
            f"?api-version={self._api_version(call.credential)}"
        )
        headers, token = await self._auth_headers(call)
        try:
            await send(call, "GET", url, headers=headers)
        except UpstreamError as exc:
            raise self._scrubbed(call, exc, token) from None

    # --- the native Responses API (providers.native.NativeResponses) ------------------

    def serves_responses(self, credential: Credential) -> bool:
        return (credential.config.get("api_version") or "")[:10] >= RESPONSES_SINCE

    def _responses(self, call: Call, request: JSON) -> tuple[str, JSON]:
        # The model of an Azure Responses request is the deployment's name.
        deployment = call.credential.config.get("deployment") or call.model
        url = (
            f"{self._endpoint(call.credential)}/openai/responses"
            f"?api-version={self._api_version(call.credential)}"
        )
        return url, {**request, "model": deployment}

    async def responses(self, call: Call, request: JSON) -> JSON:
        return await self._post(call, *self._responses(call, request))

    async def responses_stream(self, call: Call, request: JSON) -> AsyncIterator[JSON]:
        url, body = self._responses(call, request)
        headers, token = await self._auth_headers(call)
        try:
            async for event in responses_events(call, url, body, headers):
                yield event
        except UpstreamError as exc:
            raise self._scrubbed(call, exc, token) from None


def _entra_error(
    status: int, body: str, credential: Credential, retry_after: float | None = None
) -> UpstreamError:
    """Entra ID answers ``{"error": "invalid_client", "error_description": "AADSTS…"}``;
    any 4xx other than throttling means the service principal is wrong."""
    if status == 429 or status >= 500:
        return upstream_error(status, body, credential, retry_after)
    try:
        data = json.loads(body)
        detail = f"{data.get('error', '')}: {data.get('error_description', '')}"
    except (ValueError, AttributeError):
        detail = body
    # The description ends with trace and correlation ids nobody needs in an error.
    detail = credential.redact(detail.split("\r\n")[0].split(" Trace ID:")[0])[:300]
    return UpstreamAuthFailed(
        f"Upstream ({credential.provider}) Entra ID refused the service principal "
        f"({status}): {detail}",
        upstream_status=status,
    )
