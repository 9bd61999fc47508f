"""Gemini on Google Vertex AI, authorized by a service account; Claude on Vertex AI
through Anthropic's own Messages API (``vertex_claude``), so ``/v1/messages`` is lossless.

The service account's private key never leaves the gateway: google-auth signs a short
JWT grant with it (RFC 7523), which is exchanged at the JSON's ``token_uri`` for an
OAuth2 access token. The exchange goes through the shared send path rather than
google-auth's ``requests`` transport — no blocking I/O, no extra dependency, and the same
no-redirect, timeout and error rules as every other upstream call. Tokens are cached per
credential version for their lifetime; concurrent first requests share one fetch.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any, cast

import anyio
from google.auth import crypt, jwt
from google.auth.exceptions import GoogleAuthError

from keyhouse.errors import BadRequest, UpstreamAuthFailed, UpstreamError
from keyhouse.gateway.send import Reply, Stream, open_stream, send
from keyhouse.providers import gemini_embeddings as embed
from keyhouse.providers import vertex_claude as claude
from keyhouse.providers.anthropic_answer import anthropic_to_openai_response
from keyhouse.providers.anthropic_convert import openai_to_anthropic_request
from keyhouse.providers.anthropic_stream import as_chat_chunks, sse_events
from keyhouse.providers.base import JSON, Call, Credential, TokenCache, upstream_error
from keyhouse.providers.catalog import ProviderSpec
from keyhouse.providers.gemini import (
    Auth,
    GoogleAdapter,
    gather,
    google_error,
    model_id,
    parse_json,
)
from keyhouse.providers.native import scrubbed

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
_ASSERTION_LIFETIME = 3600  # the longest Google accepts
_LOCATION = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_PROJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:_-]*")


def _broken(reason: str) -> UpstreamAuthFailed:
    # Never chain the parser's exception: its text may quote the key material.
    return UpstreamAuthFailed(f"The service account JSON is not usable: {reason}.")


def service_account_info(raw: str | None) -> JSON:
    """Parse and check the secret field; the errors name what is wrong, never a value."""
    if not raw:
        raise _broken("it is empty")
    try:
        info = json.loads(raw)
    except ValueError:
        raise _broken("it is not valid JSON") from None
    if not isinstance(info, dict):
        raise _broken("it is not a JSON object")
    if info.get("type", "service_account") != "service_account":
        raise _broken("its type is not service_account")
    for field in ("client_email", "private_key"):
        if not isinstance(info.get(field), str) or not info[field]:
            raise _broken(f"{field} is missing")
    token_uri = info.get("token_uri") or DEFAULT_TOKEN_URI
    if not isinstance(token_uri, str) or not token_uri.startswith(("https://", "http://")):
        raise _broken("token_uri is not an http(s) URL")
    return {**info, "token_uri": token_uri}


def make_assertion(info: JSON, now: int | None = None) -> str:
    """The signed JWT grant; google-auth's public signer and encoder do the crypto."""
    now = int(time.time()) if now is None else now
    payload = {
        "iss": info["client_email"],
        "scope": SCOPE,
        "aud": info["token_uri"],
        "iat": now,
        "exp": now + _ASSERTION_LIFETIME,
    }
    try:
        # google-auth ships no type hints for these.
        signer = crypt.RSASigner.from_service_account_info(info)  # type: ignore[no-untyped-call]
        encoded: bytes = jwt.encode(signer, payload)  # type: ignore[no-untyped-call]
        return encoded.decode("ascii")
    except (ValueError, TypeError, GoogleAuthError):
        raise _broken("its private_key cannot be read") from None


def _token_error(status: int, body: str, call: Call) -> UpstreamError:
    """The OAuth2 token endpoint's ``{"error", "error_description"}`` → our tree; any
    refusal of the grant means the service account itself was rejected."""
    body = call.credential.redact(body)  # before any truncation, so no secret is cut
    try:
        data = json.loads(body)
        detail = ": ".join(str(data[k]) for k in ("error", "error_description") if data.get(k))
    except (ValueError, AttributeError, TypeError):
        detail = ""
    if status in (400, 401, 403):
        detail = detail[:500] or f"answered {status}"
        return UpstreamAuthFailed(
            f"Upstream ({call.credential.provider}) token endpoint refused the service "
            f"account: {detail}",
            upstream_status=status,
        )
    return upstream_error(status, body, call.credential)


def _with_secrets(call: Call, **extra: str) -> Call:
    """The same call, with a credential that also redacts ``extra`` from error text."""
    secrets = {**call.credential.secrets, **extra}
    return dataclasses.replace(
        call, credential=dataclasses.replace(call.credential, secrets=secrets)
    )


class VertexAdapter(GoogleAdapter):
    """``{base}/v1/projects/{project}/locations/{location}/publishers/google/models/…``"""

    def __init__(self, spec: ProviderSpec) -> None:
        super().__init__(spec)
        self.tokens = TokenCache()
        self._locks: dict[tuple[str, int], anyio.Lock] = {}

    # -- where -------------------------------------------------------------------------

    def _location(self, call: Call) -> str:
        location = call.credential.config.get("location") or "us-central1"
        # The location becomes part of a host name that receives the bearer token.
        if not _LOCATION.fullmatch(location):
            raise BadRequest(f"{location!r} is not a valid Vertex AI location.")
        return location

    def base_url(self, call: Call) -> str:
        base = call.credential.config.get("base_url")
        if base:  # accepted with or without the version path pasted on
            return base.rstrip("/").removesuffix("/v1beta1").removesuffix("/v1")
        location = self._location(call)
        host = (
            "aiplatform.googleapis.com"
            if location == "global"
            else f"{location}-aiplatform.googleapis.com"
        )
        return f"https://{host}"

    def _project(self, call: Call) -> str:
        project = call.credential.config.get("project_id")
        if not project:
            try:
                project = json.loads(call.credential.secrets.get("service_account_json", ""))
                project = project.get("project_id") if isinstance(project, dict) else None
            except ValueError:
                project = None
        if not isinstance(project, str) or not _PROJECT.fullmatch(project):
            raise BadRequest("The key's Vertex AI project_id is missing or not valid.")
        return project

    def model_url(self, call: Call, method: str) -> str:
        return (
            f"{self.base_url(call)}/v1/projects/{self._project(call)}/locations/"
            f"{self._location(call)}/publishers/google/models/"
            f"{model_id(call.model)}:{method}"
        )

    # -- who ---------------------------------------------------------------------------

    async def authorize(self, call: Call, stale_token: str | None = None) -> Auth:
        info = service_account_info(call.credential.secrets.get("service_account_json"))
        token, fresh = await self.access_token(call, info, stale_token)
        scrubbed = _with_secrets(call, private_key=info["private_key"], access_token=token)
        return Auth(scrubbed, {"Authorization": f"Bearer {token}"}, token, fresh)

    async def access_token(
        self, call: Call, info: JSON, stale: str | None = None
    ) -> tuple[str, bool]:
        """A cached token, or a new one; ``stale`` is a token the API just refused."""
        credential = call.credential
        hit = self.tokens.get(credential)
        if hit and hit != stale:
            return hit, False
        key = (credential.key_id, credential.version)
        lock = self._locks.setdefault(key, anyio.Lock())
        async with lock:
            # Whoever held the lock before us may have fetched it already.
            hit = self.tokens.get(credential)
            if hit and hit != stale:
                return hit, True
            token, expires_in = await self._fetch_token(call, info)
            self.tokens.put(credential, token, expires_in)
            for old in [k for k in self._locks if k[0] == key[0] and k != key]:
                del self._locks[old]
            return token, True

    async def _fetch_token(self, call: Call, info: JSON) -> tuple[str, float]:
        assertion = make_assertion(info)
        scrubbed = _with_secrets(call, private_key=info["private_key"], assertion=assertion)

        def token_error(
            status: int, body: str, credential: Credential, retry_after: float | None
        ) -> UpstreamError:
            return _token_error(status, body, scrubbed)

        reply = await send(
            scrubbed,
            "POST",
            info["token_uri"],
            form={"grant_type": GRANT_TYPE, "assertion": assertion},
            headers={"Accept": "application/json"},
            on_error=token_error,
        )
        body = reply.body.decode("utf-8", "replace")
        try:
            data: Any = json.loads(body)
            token = data["access_token"]
            expires_in = float(data.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise UpstreamError(
                f"Upstream ({call.credential.provider}) token endpoint sent no access token."
            )
        return token, expires_in

    # -- what --------------------------------------------------------------------------

    async def embeddings(self, call: Call, request: JSON) -> JSON:
        texts = embed.embedding_inputs(request)
        url = self.model_url(call, "predict")
        # gemini-embedding-* takes one instance per request; text-embedding-* up to 250
        # (and 20k tokens), so stay well below.
        size = 1 if model_id(call.model).startswith("gemini-embedding") else 64
        batches = [texts[i : i + size] for i in range(0, len(texts), size)]

        async def run(batch: list[str]) -> JSON:
            body = embed.vertex_predict_body(batch, request.get("dimensions"))
            return await self.post_json(call, url, body)

        vectors: list[list[float]] = []
        tokens = 0
        for data in await gather(batches, run):
            batch_vectors, batch_tokens = embed.vertex_predict_vectors(data)
            vectors.extend(batch_vectors)
            tokens += batch_tokens
        if len(vectors) != len(texts):
            raise UpstreamError(
                f"Upstream ({call.credential.provider}) returned the wrong number of embeddings."
            )
        return embed.embeddings_response(
            vectors, call.model, tokens, request.get("encoding_format")
        )

    # -- chat on Claude: Vertex serves Claude only through Anthropic's Messages API -----

    async def chat(self, call: Call, request: JSON) -> JSON:
        if not claude.is_claude(call.model):
            return await super().chat(call, request)
        body = openai_to_anthropic_request(request, call.model)
        return anthropic_to_openai_response(await self.messages(call, body, {}), call.model)

    def chat_stream(self, call: Call, request: JSON) -> AsyncIterator[JSON]:
        if not claude.is_claude(call.model):
            return super().chat_stream(call, request)
        return self._claude_chat_stream(call, request)

    def _claude_chat_stream(self, call: Call, request: JSON) -> AsyncIterator[JSON]:
        body = openai_to_anthropic_request(request, call.model)
        events = cast("AsyncGenerator[JSON, None]", self.messages_stream(call, body, {}))
        return as_chat_chunks(events, call.model)

    # -- Claude's own Messages API (providers.native.NativeMessages) -----------------

    def serves_messages(self, call: Call) -> bool:
        return claude.is_claude(call.model)

    def _anthropic_url(self, call: Call, model: str, method: str) -> str:
        return (
            f"{self.base_url(call)}/v1/projects/{self._project(call)}/locations/"
            f"{self._location(call)}/publishers/anthropic/models/{model}:{method}"
        )

    async def _claude(
        self, call: Call, url: str, body: JSON, caller: Mapping[str, str], stream: bool
    ) -> tuple[Auth, Reply | Stream]:
        """POST with the key's token (refreshed once if a cached one was revoked)."""
        accept = "text/event-stream" if stream else "application/json"
        extra = {**claude.headers(caller), "Accept": accept}

        async def once(auth: Auth) -> Reply | Stream:
            opener = open_stream if stream else send
            return await opener(
                auth.call,
                "POST",
                url,
                json=body,
                headers={**auth.headers, **extra},
                on_error=google_error,
            )

        return await self._authorized(call, None, once)

    async def messages(self, call: Call, request: JSON, headers: Mapping[str, str]) -> JSON:
        url = self._anthropic_url(call, model_id(call.model), "rawPredict")
        auth, reply = await self._claude(
            call, url, claude.predict_body(request, False), headers, False
        )
        assert isinstance(reply, Reply)
        # The gateway scrubs the key's stored secrets; the token is the adapter's own.
        return scrubbed(parse_json(auth.call, reply), auth.call.credential)

    async def messages_stream(
        self, call: Call, request: JSON, headers: Mapping[str, str]
    ) -> AsyncIterator[JSON]:
        url = self._anthropic_url(call, model_id(call.model), "streamRawPredict")
        auth, stream = await self._claude(
            call, url, claude.predict_body(request, True), headers, True
        )
        assert isinstance(stream, Stream)
        async with aclosing(sse_events(auth.call, stream)) as events:
            async for event in events:
                yield scrubbed(event, auth.call.credential)

    async def count_tokens(self, call: Call, request: JSON, headers: Mapping[str, str]) -> JSON:
        url = self._anthropic_url(call, claude.COUNT_MODEL, "rawPredict")
        body = claude.count_body(request, model_id(call.model))
        auth, reply = await self._claude(call, url, body, headers, False)
        assert isinstance(reply, Reply)
        return scrubbed(parse_json(auth.call, reply), auth.call.credential)

    async def verify(self, call: Call) -> None:
        """A newly fetched token proves the service account (a cached one would only
        prove it was valid once); listing Google's publisher models proves Vertex AI
        accepts the token — a GET, no tokens spent."""
        auth = await self.authorize(call, stale_token=self.tokens.get(call.credential))
        url = f"{self.base_url(call)}/v1beta1/publishers/google/models"
        await self.request(call, "GET", url, params={"pageSize": "1"}, auth=auth)
