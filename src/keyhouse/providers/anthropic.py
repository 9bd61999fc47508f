"""Anthropic's Messages API: a thin send around the pure conversions in
``anthropic_convert`` (the request) and ``anthropic_answer`` (the answer)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing

from keyhouse.gateway.send import open_stream, send, send_json
from keyhouse.providers.anthropic_answer import anthropic_to_openai_response
from keyhouse.providers.anthropic_convert import openai_to_anthropic_request
from keyhouse.providers.anthropic_stream import as_chat_chunks, sse_events
from keyhouse.providers.base import JSON, Call, Credential, ProviderAdapter
from keyhouse.providers.catalog import ProviderSpec

API_VERSION = "2023-06-01"
# The caller's headers a native Messages request carries on (the version the caller's
# SDK was written against, and the betas it opted into).
FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta")


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
        # sse_events ends at message_stop (the converter's last chunk) and closes the
        # stream; aclosing closes it now when our caller stops reading early.
        async with aclosing(as_chat_chunks(sse_events(call, stream), call.model)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def verify(self, call: Call) -> None:
        await send(
            call,
            "GET",
            self._base(call.credential) + "/v1/models?limit=1",
            headers=self._headers(call),
        )

    # --- the native Messages API (providers.native.NativeMessages) -------------------

    def serves_messages(self, call: Call) -> bool:
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
        async with aclosing(sse_events(call, stream)) as events:
            async for payload in events:
                yield payload

    async def count_tokens(self, call: Call, request: JSON, headers: Mapping[str, str]) -> JSON:
        return await send_json(
            call,
            "POST",
            self._base(call.credential) + "/v1/messages/count_tokens",
            json=request,
            headers=self._native_headers(call, headers),
        )
