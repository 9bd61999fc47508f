"""Anthropic's Messages API: a thin send around the pure conversions in
``anthropic_convert``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import orjson

from keyhouse.errors import UpstreamError, UpstreamUnavailable
from keyhouse.gateway.send import open_stream, send, send_json
from keyhouse.providers.anthropic_convert import (
    AnthropicStreamToOpenAI,
    anthropic_to_openai_response,
    openai_to_anthropic_request,
)
from keyhouse.providers.base import (
    JSON,
    Call,
    Credential,
    ProviderAdapter,
    upstream_error,
)
from keyhouse.providers.catalog import ProviderSpec

API_VERSION = "2023-06-01"
# The caller's headers a native Messages request carries on (the version the caller's
# SDK was written against, and the betas it opted into).
FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta")

# Anthropic's error types and the HTTP status each stands for, for errors that arrive
# as an SSE ``error`` event after the stream began with 200.
_ERROR_STATUS: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


class AnthropicAdapter(ProviderAdapter):
    """Chat through ``POST /v1/messages``; Anthropic has no embeddings API (501)."""

    def __init__(self, spec: ProviderSpec) -> None:
        self.spec = spec
        self.id = spec.id

    def _base(self, credential: Credential) -> str:
        base = credential.config.get("base_url") or self.spec.default_base_url or ""
        # The SDKs take the base without /v1; accept it with, too.
        return base.rstrip("/").removesuffix("/v1")

    @staticmethod
    def _headers(call: Call) -> dict[str, str]:
        return {
            "x-api-key": call.credential.secrets.get("api_key", ""),
            "anthropic-version": API_VERSION,
        }

    async def chat(self, call: Call, request: JSON) -> JSON:
        body = openai_to_anthropic_request(request, call.model)
        data = await send_json(
            call,
            "POST",
            self._base(call.credential) + "/v1/messages",
            json=body,
            headers=self._headers(call),
        )
        return anthropic_to_openai_response(data, call.model)

    async def chat_stream(self, call: Call, request: JSON) -> AsyncIterator[JSON]:
        body = openai_to_anthropic_request(request, call.model)
        body["stream"] = True
        stream = await open_stream(
            call,
            "POST",
            self._base(call.credential) + "/v1/messages",
            json=body,
            headers=self._headers(call),
        )
        converter = AnthropicStreamToOpenAI(call.model)
        try:
            async for event, data in stream.events():
                try:
                    payload = orjson.loads(data)
                except orjson.JSONDecodeError:
                    raise UpstreamError(
                        f"Upstream ({call.credential.provider}) sent a stream event that is "
                        "not JSON."
                    ) from None
                if event == "error" or payload.get("type") == "error":
                    raise _stream_error(call, payload, data)
                for chunk in converter.feed(event, payload):
                    yield chunk
                if converter.done:
                    return
        finally:
            await stream.aclose()
        # A stream cut before message_stop is a failed answer, not a short one.
        raise UpstreamUnavailable(
            f"Upstream ({call.credential.provider}) ended the stream before it finished."
        )

    async def verify(self, call: Call) -> None:
        await send(
            call,
            "GET",
            self._base(call.credential) + "/v1/models?limit=1",
            headers=self._headers(call),
        )

    # --- the native Messages API (providers.native.NativeMessages) -------------------

    def serves_messages(self, credential: Credential) -> bool:
        return True

    def _native_headers(self, call: Call, headers: Mapping[str, str]) -> dict[str, str]:
        out = self._headers(call)
        for name in FORWARDED_HEADERS:
            if headers.get(name):
                out[name] = headers[name]
        return out

    async def messages(self, call: Call, request: JSON, headers: Mapping[str, str]) -> JSON:
        return await send_json(
            call,
            "POST",
            self._base(call.credential) + "/v1/messages",
            json=request,
            headers=self._native_headers(call, headers),
        )

    async def messages_stream(
        self, call: Call, request: JSON, headers: Mapping[str, str]
    ) -> AsyncIterator[JSON]:
        stream = await open_stream(
            call,
            "POST",
            self._base(call.credential) + "/v1/messages",
            json={**request, "stream": True},
            headers=self._native_headers(call, headers),
        )
        try:
            async for event, data in stream.events():
                try:
                    payload = orjson.loads(data)
                except orjson.JSONDecodeError:
                    raise UpstreamError(
                        f"Upstream ({call.credential.provider}) sent a stream event that is "
                        "not JSON."
                    ) from None
                if event == "error" or payload.get("type") == "error":
                    raise _stream_error(call, payload, data)
                yield payload
                if payload.get("type") == "message_stop":
                    return
        finally:
            await stream.aclose()
        raise UpstreamUnavailable(
            f"Upstream ({call.credential.provider}) ended the stream before it finished."
        )

    async def count_tokens(self, call: Call, request: JSON, headers: Mapping[str, str]) -> JSON:
        return await send_json(
            call,
            "POST",
            self._base(call.credential) + "/v1/messages/count_tokens",
            json=request,
            headers=self._native_headers(call, headers),
        )


def _stream_error(call: Call, payload: JSON, raw: str) -> UpstreamError:
    kind = (payload.get("error") or {}).get("type", "")
    return upstream_error(_ERROR_STATUS.get(kind, 500), raw, call.credential)
