"""Google Gemini API (``generativelanguage.googleapis.com``) with an API key.

``GoogleAdapter`` holds what the Gemini API and Vertex AI share — the generateContent
calls, Google's error envelope, SSE streaming — and leaves two hooks to subclasses: how
a request is authorized and where a model's methods live. The key travels in the
``x-goog-api-key`` header, never in the URL (Google also accepts ``?key=``, which would
write it into every access log on the way).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import anyio
import orjson

from keyhouse.errors import BadRequest, UpstreamAuthFailed, UpstreamError
from keyhouse.gateway.send import Reply, Stream, open_stream, send
from keyhouse.providers import gemini_embeddings as embed
from keyhouse.providers.base import (
    JSON,
    Call,
    Credential,
    ProviderAdapter,
    upstream_error,
)
from keyhouse.providers.catalog import ProviderSpec
from keyhouse.providers.gemini_answer import chat_response
from keyhouse.providers.gemini_request import chat_request
from keyhouse.providers.gemini_stream import StreamConverter

T = TypeVar("T")
R = TypeVar("R")

# Google answers a bad or expired API key with 400 INVALID_ARGUMENT; these ErrorInfo
# reasons make it what it is: a credential the provider refused.
_AUTH_REASONS = frozenset(
    {
        "API_KEY_INVALID",
        "API_KEY_EXPIRED",
        "API_KEY_SERVICE_BLOCKED",
        "API_KEY_HTTP_REFERRER_BLOCKED",
        "API_KEY_IP_ADDRESS_BLOCKED",
        "API_KEY_ANDROID_APP_BLOCKED",
        "API_KEY_IOS_APP_BLOCKED",
        "CONSUMER_SUSPENDED",
        "ACCESS_TOKEN_EXPIRED",
        "ACCESS_TOKEN_TYPE_UNSUPPORTED",
        "CREDENTIALS_MISSING",
    }
)
_MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]*")
_GEMINI_EMBED_BATCH = 100  # batchEmbedContents takes at most 100 requests


def _error_details(text: str) -> tuple[set[str], float | None]:
    """ErrorInfo reasons and the RetryInfo delay (seconds) of a Google error body."""
    try:
        error = json.loads(text).get("error")
        details = error.get("details") or []
    except (ValueError, AttributeError):
        return set(), None
    reasons, delay = set(), None
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        if isinstance(detail.get("reason"), str):
            reasons.add(detail["reason"])
        retry = detail.get("retryDelay")
        if isinstance(retry, str) and retry.endswith("s"):
            with contextlib.suppress(ValueError):
                delay = max(0.0, float(retry[:-1]))
    return reasons, delay


def google_error(
    status: int, text: str, credential: Credential, retry_after: float | None
) -> UpstreamError:
    """``upstream_error``, plus what only Google's envelope tells: auth failures sent as
    400 and the RetryInfo delay."""
    reasons, delay = _error_details(text)
    # Redact the whole body before upstream_error cuts the message to 500 characters: a
    # secret cut in half by the truncation would no longer match, and half would leak.
    error = upstream_error(
        status,
        credential.redact(text),
        credential,
        retry_after if retry_after is not None else delay,
    )
    if status == 400 and reasons & _AUTH_REASONS:
        return UpstreamAuthFailed(error.message, upstream_status=status)
    return error


def parse_json(call: Call, reply: Reply) -> JSON:
    try:
        data = reply.json()
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise UpstreamError(
            f"Upstream ({call.credential.provider}) sent a body that is not a JSON object."
        )
    return data


def model_id(model: str) -> str:
    """The model's id, checked because it becomes a URL path segment."""
    name = model.removeprefix("models/")
    if not _MODEL_ID.fullmatch(name) or ".." in name:
        raise BadRequest(f"{model!r} is not a valid Google model name.")
    return name


async def gather(
    batches: Sequence[T], run: Callable[[T], Awaitable[JSON]], limit: int = 8
) -> list[JSON]:
    """Run ``run`` over ``batches`` with bounded concurrency, results in order. A failure
    surfaces as itself, not wrapped in the task group's ExceptionGroup, so the router
    still sees an UpstreamError it can classify."""
    if len(batches) == 1:
        return [await run(batches[0])]
    results: list[JSON] = [{} for _ in batches]
    limiter = anyio.CapacityLimiter(limit)

    async def one(position: int, batch: T) -> None:
        async with limiter:
            results[position] = await run(batch)

    try:
        async with anyio.create_task_group() as group:
            for position, batch in enumerate(batches):
                group.start_soon(one, position, batch)
    except BaseExceptionGroup as failures:
        first: BaseException = failures
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
    return results


@dataclass(frozen=True, slots=True)
class Auth:
    """How to authorize one request: headers, plus a call whose credential redacts every
    secret in play (for Vertex that includes the private key and the access token)."""

    call: Call
    headers: dict[str, str]
    token: str | None = None
    fresh: bool = True  # False when a cached token was used: a 401 may warrant a refresh


class GoogleAdapter(ProviderAdapter):
    """generateContent over HTTP; subclasses say how to authorize and where models live."""

    def __init__(self, spec: ProviderSpec) -> None:
        self.spec = spec
        self.id = spec.id

    # -- hooks -------------------------------------------------------------------------

    async def authorize(self, call: Call, stale_token: str | None = None) -> Auth:
        raise NotImplementedError

    def model_url(self, call: Call, method: str) -> str:
        raise NotImplementedError

    # -- shared plumbing ---------------------------------------------------------------

    async def _authorized(
        self, call: Call, auth: Auth | None, once: Callable[[Auth], Awaitable[R]]
    ) -> tuple[Auth, R]:
        auth = auth or await self.authorize(call)
        while True:
            try:
                return auth, await once(auth)
            except UpstreamAuthFailed as exc:
                # A cached token can be revoked before it expires: fetch one more and
                # retry once; a freshly fetched token that fails is a real rejection,
                # and a 403 (no permission) is not cured by a new token.
                if auth.fresh or exc.upstream_status != 401:
                    raise
                auth = await self.authorize(call, stale_token=auth.token)

    async def request(
        self,
        call: Call,
        method: str,
        url: str,
        body: JSON | None = None,
        params: dict[str, str] | None = None,
        auth: Auth | None = None,
    ) -> tuple[Auth, Reply]:
        """Send with the key's authorization; a whole answer; errors in Google's terms."""

        async def once(auth: Auth) -> Reply:
            return await send(
                auth.call,
                method,
                url,
                json=body,
                params=params,
                headers={**auth.headers, "Accept": "application/json"},
                on_error=google_error,
            )

        return await self._authorized(call, auth, once)

    async def open(
        self, call: Call, url: str, body: JSON, params: dict[str, str]
    ) -> tuple[Auth, Stream]:
        async def once(auth: Auth) -> Stream:
            return await open_stream(
                auth.call,
                "POST",
                url,
                json=body,
                params=params,
                headers={**auth.headers, "Accept": "text/event-stream"},
                on_error=google_error,
            )

        return await self._authorized(call, None, once)

    async def post_json(self, call: Call, url: str, body: JSON) -> JSON:
        auth, reply = await self.request(call, "POST", url, body)
        return parse_json(auth.call, reply)

    async def chat(self, call: Call, request: JSON) -> JSON:
        body = chat_request(request)
        data = await self.post_json(call, self.model_url(call, "generateContent"), body)
        return chat_response(data, call.model)

    async def chat_stream(self, call: Call, request: JSON) -> AsyncIterator[JSON]:
        body = chat_request(request)
        auth, stream = await self.open(
            call, self.model_url(call, "streamGenerateContent"), body, {"alt": "sse"}
        )
        converter = StreamConverter(call.model)
        try:
            async for _, data in stream.events():
                try:
                    event = orjson.loads(data)
                except orjson.JSONDecodeError:
                    raise UpstreamError(
                        f"Upstream ({call.credential.provider}) sent a "
                        "stream event that is not JSON."
                    ) from None
                if isinstance(event, dict) and isinstance(event.get("error"), dict):
                    # Google reports a failure after the 200 as one last event.
                    code = event["error"].get("code")
                    status = code if isinstance(code, int) and code >= 400 else 502
                    raise google_error(status, data, auth.call.credential, None)
                for chunk in converter.feed(event if isinstance(event, dict) else {}):
                    yield chunk
        finally:
            await stream.aclose()
        for chunk in converter.finish():
            yield chunk


class GeminiAdapter(GoogleAdapter):
    """The Gemini API: ``{base}/v1beta/models/{model}:{method}`` with ``x-goog-api-key``."""

    def base_url(self, call: Call) -> str:
        base = call.credential.config.get("base_url") or self.spec.default_base_url or ""
        # Accept a base URL pasted with the version path, as Google's docs print it.
        return base.rstrip("/").removesuffix("/v1beta")

    async def authorize(self, call: Call, stale_token: str | None = None) -> Auth:
        key = call.credential.secrets.get("api_key")
        if not key:
            raise UpstreamAuthFailed("The key has no Gemini API key.")
        return Auth(call, {"x-goog-api-key": key})

    def model_url(self, call: Call, method: str) -> str:
        return f"{self.base_url(call)}/v1beta/models/{model_id(call.model)}:{method}"

    async def embeddings(self, call: Call, request: JSON) -> JSON:
        texts = embed.embedding_inputs(request)
        url = self.model_url(call, "batchEmbedContents")
        path = f"models/{model_id(call.model)}"
        batches = [
            texts[i : i + _GEMINI_EMBED_BATCH] for i in range(0, len(texts), _GEMINI_EMBED_BATCH)
        ]

        async def run(batch: list[str]) -> JSON:
            body = embed.gemini_embed_body(path, batch, request.get("dimensions"))
            return await self.post_json(call, url, body)

        vectors = [
            v for data in await gather(batches, run) for v in embed.gemini_embed_vectors(data)
        ]
        if len(vectors) != len(texts):
            raise UpstreamError("Upstream (gemini) returned the wrong number of embeddings.")
        # batchEmbedContents reports no token counts.
        return embed.embeddings_response(vectors, call.model, 0, request.get("encoding_format"))

    async def verify(self, call: Call) -> None:
        await self.request(
            call, "GET", f"{self.base_url(call)}/v1beta/models", params={"pageSize": "1"}
        )
