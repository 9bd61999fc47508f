"""Amazon Bedrock: Converse / ConverseStream for chat, InvokeModel for embeddings, and
for Claude models Anthropic's own Messages API over InvokeModel (``bedrock_claude``), so
``/v1/messages`` loses nothing on the way.

Two ways to authenticate, by the key's auth method:
- ``access_keys``: every request is signed with SigV4 by botocore's own signer, over the
  exact URL, Host header and body bytes that the send path then sends (service name ``bedrock``);
- ``api_key``: a Bedrock API key, sent as ``Authorization: Bearer``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from urllib.parse import quote, urlsplit

import orjson
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from keyhouse.errors import BadRequest, UpstreamError
from keyhouse.gateway.send import Reply, Stream, open_stream, send
from keyhouse.providers import bedrock_claude as claude
from keyhouse.providers import bedrock_convert as convert
from keyhouse.providers import bedrock_embeddings as embed
from keyhouse.providers import bedrock_response as answer
from keyhouse.providers.anthropic_stream import cut_short, parse_event
from keyhouse.providers.base import (
    JSON,
    REDACTED,
    Call,
    Credential,
    ProviderAdapter,
)
from keyhouse.providers.bedrock_eventstream import iter_events
from keyhouse.providers.catalog import ProviderSpec

SIGNING_NAME = "bedrock"  # both bedrock-runtime and the control plane sign as "bedrock"
EMBED_CONCURRENCY = 8  # Titan embeds one text per call: fan out, but politely
# The region becomes part of a hostname: "x.evil.com#" would send a signed request (or a
# Bedrock API key) elsewhere. Accept only the shape of real regions (us-east-1, us-gov-west-1).
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")

# botocore's signer logs the canonical request at DEBUG, and that text holds the session
# token. Keep it from ever reaching a handler, whatever the root logger's level.
_auth_log = logging.getLogger("botocore.auth")
if _auth_log.level < logging.INFO:
    _auth_log.setLevel(logging.INFO)


def _scrub_cut_secrets(error: UpstreamError, credential: Credential) -> UpstreamError:
    """Redact a secret that the upstream-message truncation cut in half.

    ``base.upstream_error`` shortens the provider's message before redacting it, so a
    secret straddling the cut survives as a prefix. AWS's InvalidSignatureException
    quotes the canonical request, session token included, and STS session tokens run to
    a kilobyte: exactly that case. Only the message's tail can hold such a stump.
    """
    message = error.message
    for secret in credential.secrets.values():
        for size in range(min(len(secret), len(message)), 3, -1):
            if message.endswith(secret[:size]):
                message = message[:-size] + REDACTED
                break
    error.message = message
    error.args = (message,)
    return error


async def _send(call: Call, request: _Request) -> Reply:
    try:
        return await send(
            call, request.method, request.url, content=request.content, headers=request.headers
        )
    except UpstreamError as exc:
        raise _scrub_cut_secrets(exc, call.credential) from None


async def _open(call: Call, request: _Request) -> Stream:
    try:
        return await open_stream(
            call, request.method, request.url, content=request.content, headers=request.headers
        )
    except UpstreamError as exc:
        raise _scrub_cut_secrets(exc, call.credential) from None


class _Request:
    """What will be sent, exactly: the signature covers these bytes."""

    __slots__ = ("content", "headers", "method", "url")

    def __init__(
        self, method: str, url: str, content: bytes | None, headers: dict[str, str]
    ) -> None:
        self.method = method
        self.url = url
        self.content = content
        self.headers = headers


class _Signers:
    """One SigV4 signer per credential version: building botocore ``Credentials`` per
    request would be wasted work on the hot path. An edited key gets a fresh signer and
    the old version's is dropped, so old secrets do not linger in memory."""

    def __init__(self, limit: int = 1024) -> None:
        self._by_key: dict[str, tuple[tuple[int, str], SigV4Auth]] = {}
        self._limit = limit

    def get(self, credential: Credential, region: str) -> SigV4Auth:
        stamp = (credential.version, region)
        hit = self._by_key.get(credential.key_id)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        secrets = credential.secrets
        creds = Credentials(
            secrets.get("aws_access_key_id", ""),
            secrets.get("aws_secret_access_key", ""),
            secrets.get("aws_session_token") or None,
        )
        signer = SigV4Auth(creds, SIGNING_NAME, region)
        if hit is None and len(self._by_key) >= self._limit:
            self._by_key.pop(next(iter(self._by_key)))
        self._by_key[credential.key_id] = (stamp, signer)
        return signer


class BedrockAdapter(ProviderAdapter):
    id = "bedrock"

    def __init__(self, spec: ProviderSpec) -> None:
        self.spec = spec
        self._signers = _Signers()

    # --- endpoints -------------------------------------------------------------------

    @staticmethod
    def _region(credential: Credential) -> str:
        region = (credential.config.get("region") or "").strip()
        if not REGION.fullmatch(region):
            raise BadRequest("This Bedrock key needs a valid AWS region, such as us-east-1.")
        return region

    def _runtime_base(self, credential: Credential) -> str:
        base = credential.config.get("base_url")
        if base:
            return base.rstrip("/")
        return f"https://bedrock-runtime.{self._region(credential)}.amazonaws.com"

    def _control_base(self, credential: Credential) -> str:
        # A configured endpoint URL stands for the whole service (it is how tests and
        # VPC endpoints point us elsewhere), so the control-plane call follows it too.
        base = credential.config.get("base_url")
        if base:
            return base.rstrip("/")
        return f"https://bedrock.{self._region(credential)}.amazonaws.com"

    def _model_url(self, call: Call, operation: str) -> str:
        # Model ids hold ':' and ARNs hold '/' too: one path segment, fully escaped, as
        # the AWS SDKs send it (SigV4 then escapes the escaped path once more).
        model = quote(call.model, safe="")
        return f"{self._runtime_base(call.credential)}/model/{model}/{operation}"

    # --- requests --------------------------------------------------------------------

    def _request(
        self,
        call: Call,
        method: str,
        url: str,
        body: JSON | None = None,
        accept: str = "application/json",
    ) -> _Request:
        content = orjson.dumps(body) if body is not None else None
        headers = {"accept": accept, "host": _host_header(url)}
        if body is not None:
            headers["content-type"] = "application/json"
        request = _Request(method, url, content, headers)
        credential = call.credential
        if credential.auth_method == "api_key":
            headers["authorization"] = f"Bearer {credential.secrets.get('api_key', '')}"
            return request
        self._sign(request, credential)
        return request

    def _sign(self, request: _Request, credential: Credential) -> None:
        """Sign what will be sent: the URL (already percent-encoded, sent as it is), the
        Host header, our content type, and the body bytes."""
        headers = request.headers
        to_sign = {"host": headers["host"]}
        if "content-type" in headers:
            to_sign["content-type"] = headers["content-type"]
        aws = AWSRequest(
            method=request.method, url=request.url, data=request.content or b"", headers=to_sign
        )
        self._signers.get(credential, self._region(credential)).add_auth(aws)
        for name, value in aws.headers.items():
            if name.lower() not in to_sign:
                headers[name] = value

    @staticmethod
    def _json(call: Call, reply: Reply) -> JSON:
        try:
            data = reply.json()
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise UpstreamError(f"Upstream ({call.credential.provider}) sent unexpected JSON.")
        return data

    @staticmethod
    def _response_id(headers: Mapping[str, str]) -> str:
        request_id = headers.get("x-amzn-requestid")
        return f"chatcmpl-{request_id or uuid.uuid4().hex}"

    # --- capabilities ----------------------------------------------------------------

    async def chat(self, call: Call, request: JSON) -> JSON:
        body = convert.chat_request(request)
        reply = await _send(
            call, self._request(call, "POST", self._model_url(call, "converse"), body)
        )
        return answer.chat_response(
            self._json(call, reply), call.model, self._response_id(reply.headers), int(time.time())
        )

    async def chat_stream(self, call: Call, request: JSON) -> AsyncIterator[JSON]:
        body = convert.chat_request(request)
        http_request = self._request(
            call,
            "POST",
            self._model_url(call, "converse-stream"),
            body,
            accept="application/vnd.amazon.eventstream",
        )
        stream = await _open(call, http_request)
        converter = answer.ChatStreamConverter(
            call.model, self._response_id(stream.headers), int(time.time())
        )
        # aclosing: a caller that stops reading early releases the connection now, not
        # whenever the abandoned generator is garbage-collected.
        async with aclosing(iter_events(call, stream)) as events:
            async for event, payload in events:
                for chunk in converter.feed(event, payload):
                    yield chunk

    async def embeddings(self, call: Call, request: JSON) -> JSON:
        family = embed.embedding_family(call.model)
        texts = embed.embedding_inputs(request)
        url = self._model_url(call, "invoke")
        if family == "titan":
            bodies = [embed.titan_embedding_body(t, request, call.model) for t in texts]
        else:
            bodies = embed.cohere_embedding_bodies(texts, request, call.model)
        limit = asyncio.Semaphore(EMBED_CONCURRENCY)

        async def invoke(body: JSON) -> tuple[JSON, int]:
            async with limit:
                reply = await _send(call, self._request(call, "POST", url, body))
            # Bedrock reports the tokens it billed in a header for every InvokeModel.
            header = reply.headers.get("x-amzn-bedrock-input-token-count", "")
            return self._json(call, reply), int(header) if header.isdigit() else -1

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(invoke(b)) for b in bodies]
        except BaseExceptionGroup as failed:
            # One failed call cancels the rest; report it as the error it is.
            raise failed.exceptions[0] from None
        vectors: list[list[float]] = []
        tokens = 0
        try:
            for task in tasks:
                data, counted = task.result()
                if family == "titan":
                    vector, body_count = embed.titan_embedding(data)
                    vectors.append(vector)
                    tokens += counted if counted >= 0 else body_count
                else:
                    vectors.extend(embed.cohere_embeddings(data))
                    tokens += max(counted, 0)
        except ValueError:
            raise UpstreamError(
                f"Upstream ({call.credential.provider}) sent an embedding response "
                "without embeddings."
            ) from None
        return embed.embeddings_response(
            vectors, call.model, tokens, request.get("encoding_format")
        )

    async def verify(self, call: Call) -> None:
        url = f"{self._control_base(call.credential)}/foundation-models"
        await _send(call, self._request(call, "GET", url))

    # --- Claude's own Messages API (providers.native.NativeMessages) ------------------

    async def _resolve(self, call: Call) -> Call:
        """The call with the credential that signs it. A stored key is that already; the
        keyless adapters' mixin, ahead of this class, resolves a short-lived one."""
        return call

    def serves_messages(self, call: Call) -> bool:
        return claude.is_claude(call.model)

    async def messages(self, call: Call, request: JSON, headers: Mapping[str, str]) -> JSON:
        call = await self._resolve(call)
        body = claude.invoke_body(request, headers)
        url = self._model_url(call, "invoke")
        reply = await _send(call, self._request(call, "POST", url, body))
        return self._json(call, reply)

    async def messages_stream(
        self, call: Call, request: JSON, headers: Mapping[str, str]
    ) -> AsyncIterator[JSON]:
        call = await self._resolve(call)
        body = claude.invoke_body(request, headers)
        url = self._model_url(call, "invoke-with-response-stream")
        accept = "application/vnd.amazon.eventstream"
        stream = await _open(call, self._request(call, "POST", url, body, accept=accept))
        async with aclosing(iter_events(call, stream)) as events:
            async for kind, payload in events:
                if kind != "chunk":
                    continue  # an event type AWS added later
                event = parse_event(call, "", claude.chunk_bytes(payload))
                yield event
                if event.get("type") == "message_stop":
                    return
        raise cut_short(call)

    async def count_tokens(self, call: Call, request: JSON, headers: Mapping[str, str]) -> JSON:
        """Bedrock's CountTokens, for the foundation model behind the target's id."""
        call = await self._resolve(call)
        body = claude.count_tokens_body(request, headers)
        model = quote(claude.count_model(call.model), safe="")
        url = f"{self._runtime_base(call.credential)}/model/{model}/count-tokens"
        reply = await _send(call, self._request(call, "POST", url, body))
        return claude.count_answer(self._json(call, reply))


def _host_header(url: str) -> str:
    """The Host header for ``url``, as an HTTP client derives it (no default port)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    default = 443 if parts.scheme == "https" else 80
    return host if port is None or port == default else f"{host}:{port}"
