"""OpenAI's wire format: OpenAI itself, every OpenAI-compatible vendor row, Ollama,
custom OpenAI-compatible servers, and Databricks serving endpoints.

The gateway's internal shape *is* OpenAI's, so nothing is converted: the body goes out
as it came in (with the provider's model) and the answer comes back untouched. This is
the hot path of most deployments, so a request costs one dict and one httpx.Request.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any, cast

import httpx

from keyhouse.errors import UpstreamBadRequest, UpstreamError
from keyhouse.providers.base import (
    JSON,
    Call,
    Credential,
    ProviderAdapter,
    iter_sse,
    open_stream,
    send,
    send_json,
    upstream_error,
)
from keyhouse.providers.catalog import ProviderSpec

_STREAM_USAGE = {"include_usage": True}

_Events = AsyncGenerator[tuple[str, str], None]


class OpenAIAdapter(ProviderAdapter):
    """Any server speaking OpenAI's chat/completions, embeddings and models routes.

    Auth follows the credential: a Bearer key when one is set (``openai_compatible``
    keys may have none, Ollama never has one), plus OpenAI's optional organization and
    project headers.
    """

    # Whether to ask for a final usage chunk; servers that reject stream_options opt out.
    stream_usage: bool = True

    def __init__(self, spec: ProviderSpec) -> None:
        self.spec = spec
        self.id = spec.id

    # --- what differs between OpenAI-compatible servers ---------------------------------

    def base_url(self, credential: Credential) -> str:
        base = credential.config.get("base_url") or self.spec.default_base_url
        if not base:
            raise UpstreamBadRequest(f"The {self.id} key has no base URL configured.")
        return base.rstrip("/")

    def headers(self, credential: Credential) -> dict[str, str]:
        key = credential.secrets.get("api_key")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        config = credential.config
        if config.get("organization"):
            headers["OpenAI-Organization"] = config["organization"]
        if config.get("project"):
            headers["OpenAI-Project"] = config["project"]
        return headers

    def verify_url(self, credential: Credential) -> str:
        return f"{self.base_url(credential)}/models"

    # --- the adapter ----------------------------------------------------------------------

    def _post(self, call: Call, path: str, body: JSON) -> httpx.Request:
        return call.client.build_request(
            "POST", self.base_url(call.credential) + path, json=body,
            headers=self.headers(call.credential), timeout=call.timeout,
        )

    async def chat(self, call: Call, request: JSON) -> JSON:
        body = request if request.get("model") == call.model else {**request, "model": call.model}
        return await send_json(call, self._post(call, "/chat/completions", body))

    async def chat_stream(self, call: Call, request: JSON) -> AsyncIterator[JSON]:
        body = {**request, "model": call.model, "stream": True}
        if self.stream_usage:
            body["stream_options"] = {**(request.get("stream_options") or {}), **_STREAM_USAGE}
        async for chunk in stream_chunks(call, self._post(call, "/chat/completions", body)):
            yield chunk

    async def embeddings(self, call: Call, request: JSON) -> JSON:
        body = request if request.get("model") == call.model else {**request, "model": call.model}
        return await send_json(call, self._post(call, "/embeddings", body))

    async def verify(self, call: Call) -> None:
        await send(call, call.client.build_request(
            "GET", self.verify_url(call.credential), headers=self.headers(call.credential),
            timeout=call.timeout,
        ))

    # --- the native Responses API (providers.native.NativeResponses) ------------------

    def serves_responses(self, credential: Credential) -> bool:
        # OpenAI itself; the vendor rows sharing this adapter have chat completions only.
        return self.id == "openai"

    async def responses(self, call: Call, request: JSON) -> JSON:
        return await send_json(call, self._post(call, "/responses", request))

    async def responses_stream(self, call: Call, request: JSON) -> AsyncIterator[JSON]:
        async for event in responses_events(call, self._post(call, "/responses", request)):
            yield event


class DatabricksAdapter(OpenAIAdapter):
    """Databricks model serving: OpenAI-compatible under ``{host}/serving-endpoints``,
    with the endpoint name as ``model`` and a workspace token as Bearer."""

    # Databricks' chat API does not list stream_options; its chunks carry usage anyway.
    stream_usage = False

    def base_url(self, credential: Credential) -> str:
        return f"{_host(credential)}/serving-endpoints"

    def headers(self, credential: Credential) -> dict[str, str]:
        return {"Authorization": f"Bearer {credential.secrets.get('token', '')}"}

    def verify_url(self, credential: Credential) -> str:
        return f"{_host(credential)}/api/2.0/serving-endpoints"


def _host(credential: Credential) -> str:
    host = credential.config.get("host", "").rstrip("/")
    if not host:
        raise UpstreamBadRequest("The Databricks key has no workspace URL configured.")
    return host if "://" in host else f"https://{host}"


async def stream_chunks(call: Call, request: httpx.Request) -> AsyncIterator[JSON]:
    """Send a streaming chat request and yield its chunks until ``[DONE]``.

    Shared by every adapter whose upstream speaks OpenAI's SSE framing.
    """
    response = await open_stream(call, request)
    # iter_sse is an async generator: closing it at once releases the connection.
    async with aclosing(cast(_Events, iter_sse(call, response))) as events:
        async for _event, data in events:
            if data == "[DONE]":
                return
            try:
                chunk = json.loads(data)
            except ValueError:
                raise UpstreamError(
                    f"Upstream ({call.credential.provider}) sent a stream event that is not "
                    "JSON."
                ) from None
            if not isinstance(chunk, dict):
                continue
            if "error" in chunk and not chunk.get("choices"):
                raise _stream_error(call, chunk, data)
            yield chunk


def _stream_error(call: Call, chunk: JSON, raw: str) -> UpstreamError:
    """An error sent inside a 200 stream (OpenAI does this on overload mid-answer)."""
    error: Any = chunk.get("error")
    text = json.dumps(error).lower() if isinstance(error, dict) else str(error).lower()
    status = 500
    if "rate_limit" in text or "rate limit" in text:
        status = 429
    elif "invalid_request" in text:
        status = 400
    return upstream_error(status, raw, call.credential)


_LAST_EVENTS = {"response.completed", "response.incomplete", "response.failed"}


async def responses_events(call: Call, request: httpx.Request) -> AsyncIterator[JSON]:
    """A Responses API event stream as dicts, until its last event; an ``error`` event
    before anything else is an upstream error (the router may still fall back)."""
    response = await open_stream(call, request)
    async with aclosing(cast(_Events, iter_sse(call, response))) as events:
        async for _event, data in events:
            if data == "[DONE]":
                return
            try:
                event = json.loads(data)
            except ValueError:
                raise UpstreamError(
                    f"Upstream ({call.credential.provider}) sent a stream event that is not "
                    "JSON.") from None
            if not isinstance(event, dict):
                continue
            if event.get("type") == "error":
                raise _stream_error(call, {"error": event}, data)
            yield event
            if event.get("type") in _LAST_EVENTS:
                return
