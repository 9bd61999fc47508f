"""OpenAI's wire format: OpenAI itself, every OpenAI-compatible vendor row, Ollama,
custom OpenAI-compatible servers, and Databricks serving endpoints.

The gateway's internal shape *is* OpenAI's, so nothing is converted: the body goes out
as it came in (with the provider's model) and the answer comes back untouched. This is
the hot path of most deployments, so a request costs one dict and one send; ``chat_relayed``
relays the answer's bytes without parsing them at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import orjson

from keyhouse.errors import UpstreamBadRequest, UpstreamError
from keyhouse.gateway.send import object_bytes, open_stream, send, send_json
from keyhouse.providers.base import (
    JSON,
    Call,
    Credential,
    ProviderAdapter,
    upstream_error,
)
from keyhouse.providers.catalog import ProviderSpec

_STREAM_USAGE = {"include_usage": True}


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

    def _url(self, call: Call, path: str) -> str:
        return self.base_url(call.credential) + path

    async def chat(self, call: Call, request: JSON) -> JSON:
        body = request if request.get("model") == call.model else {**request, "model": call.model}
        return await send_json(
            call,
            "POST",
            self._url(call, "/chat/completions"),
            json=body,
            headers=self.headers(call.credential),
        )

    async def chat_relayed(self, call: Call, request: JSON) -> bytes:
        """The answer's JSON bytes, untouched: the gateway's shape is OpenAI's, so a
        caller of /v1/chat/completions gets them without a decode and an encode."""
        body = request if request.get("model") == call.model else {**request, "model": call.model}
        reply = await send(
            call,
            "POST",
            self._url(call, "/chat/completions"),
            json=body,
            headers=self.headers(call.credential),
        )
        return object_bytes(call, reply.body)

    def chat_stream(self, call: Call, request: JSON) -> AsyncIterator[JSON]:
        # The chunks generator itself, not a generator around it: one hop less per chunk.
        body = {**request, "model": call.model, "stream": True}
        if self.stream_usage:
            body["stream_options"] = {**(request.get("stream_options") or {}), **_STREAM_USAGE}
        return stream_chunks(
            call, self._url(call, "/chat/completions"), body, self.headers(call.credential)
        )

    def chat_stream_relayed(
        self, call: Call, request: JSON, include_usage: bool, on_usage: Callable[[JSON], None]
    ) -> AsyncIterator[bytes]:
        body = {**request, "model": call.model, "stream": True}
        if self.stream_usage:
            body["stream_options"] = {**(request.get("stream_options") or {}), **_STREAM_USAGE}
        return relay_stream(
            call,
            self._url(call, "/chat/completions"),
            body,
            self.headers(call.credential),
            include_usage,
            on_usage,
        )

    async def embeddings(self, call: Call, request: JSON) -> JSON:
        body = request if request.get("model") == call.model else {**request, "model": call.model}
        return await send_json(
            call,
            "POST",
            self._url(call, "/embeddings"),
            json=body,
            headers=self.headers(call.credential),
        )

    async def verify(self, call: Call) -> None:
        await send(
            call, "GET", self.verify_url(call.credential), headers=self.headers(call.credential)
        )

    # --- the native Responses API (providers.native.NativeResponses) ------------------

    def serves_responses(self, credential: Credential) -> bool:
        # OpenAI itself; the vendor rows sharing this adapter have chat completions only.
        return self.id == "openai"

    async def responses(self, call: Call, request: JSON) -> JSON:
        return await send_json(
            call,
            "POST",
            self._url(call, "/responses"),
            json=request,
            headers=self.headers(call.credential),
        )

    def responses_stream(self, call: Call, request: JSON) -> AsyncIterator[JSON]:
        return responses_events(
            call, self._url(call, "/responses"), request, self.headers(call.credential)
        )


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


async def stream_chunks(
    call: Call, url: str, body: JSON, headers: Mapping[str, str]
) -> AsyncIterator[JSON]:
    """Send a streaming chat request and yield its chunks until ``[DONE]``.

    Shared by every adapter whose upstream speaks OpenAI's SSE framing.
    """
    stream = await open_stream(call, "POST", url, json=body, headers=headers)
    try:
        async for _event, data in stream.events():
            if data == "[DONE]":
                return
            try:
                chunk = orjson.loads(data)
            except orjson.JSONDecodeError:
                raise UpstreamError(
                    f"Upstream ({call.credential.provider}) sent a stream event that is not JSON."
                ) from None
            if not isinstance(chunk, dict):
                continue
            if "error" in chunk and not chunk.get("choices"):
                raise _stream_error(call, chunk, data)
            yield chunk
    finally:
        await stream.aclose()


async def relay_stream(
    call: Call,
    url: str,
    body: JSON,
    headers: Mapping[str, str],
    include_usage: bool,
    on_usage: Callable[[JSON], None],
) -> AsyncIterator[bytes]:
    """The upstream's events as SSE bytes for a caller of /v1/chat/completions, one write
    per network read, without a decode and an encode per chunk.

    Parsed, because something depends on them: the first data event (a 200 whose body
    is not an event stream is an error the router can still fall back on), an event
    that mentions an error (OpenAI reports overload mid-answer that way) and the usage
    chunk (recorded; kept only for a caller who asked for it). The rest goes out as the
    upstream framed it, ending with ``data: [DONE]`` (added if the upstream omitted it).
    """
    stream = await open_stream(call, "POST", url, json=body, headers=headers)
    checked = False
    try:
        async for frame in stream.frames():
            if checked and not _worth_a_look(frame):
                yield frame  # the common run of content chunks, relayed as it came
                continue
            out: list[bytes] = []
            for block in frame.split(b"\n\n"):
                if not block:
                    continue
                if not block.startswith(b"data:"):
                    out.append(block)  # comments, event names: the SDK skips them
                    continue
                data = block[5:].lstrip(b" ")
                if data == b"[DONE]":
                    out.append(block)
                    yield b"\n\n".join(out) + b"\n\n"
                    return
                if (
                    not checked
                    or data.find(b'"error"') != -1
                    or (
                        data.find(b'"usage"') != -1
                        and data.find(b'"usage":null') == -1
                        and data.find(b'"usage": null') == -1
                    )
                ):
                    try:
                        shown = _relayed_chunk(call, data, include_usage, on_usage)
                    except UpstreamError:
                        if out:  # what came before the error still goes out first
                            yield b"\n\n".join(out) + b"\n\n"
                        raise
                    checked = True
                    if shown is None:
                        continue
                    if shown is not data:
                        block = b"data: " + shown
                out.append(block)
            if out:
                yield b"\n\n".join(out) + b"\n\n"
        yield DONE_EVENT
    finally:
        await stream.aclose()


DONE_EVENT = b"data: [DONE]\n\n"


def _worth_a_look(frame: bytes) -> bool:
    """Whether a run of events may hold one that ends the stream, reports an error or
    carries usage (``relay_stream`` then reads it event by event). Each test is one
    scan of the bytes: a run of content chunks fails them all and goes out whole. With
    the finds below (not ``in``), that took a 500-token stream relayed from 13.2 to
    11.3 M instructions under callgrind (the bare floor: 8.2 M)."""
    # find, not ``in``: see gateway.send (a TypeError raised and cleared per ``in``).
    if frame.find(b"[DONE]") != -1 or frame.find(b'"error"') != -1:
        return True
    usage = frame.count(b'"usage"')
    # With include_usage, OpenAI puts "usage": null on every chunk but the last.
    return usage > 0 and usage != frame.count(b'"usage":null') + frame.count(b'"usage": null')


def _relayed_chunk(
    call: Call, data: bytes, include_usage: bool, on_usage: Callable[[JSON], None]
) -> bytes | None:
    """One parsed chunk's bytes as the caller gets them (None: dropped)."""
    try:
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamError(
            f"Upstream ({call.credential.provider}) sent a stream event that is not JSON."
        ) from None
    if not isinstance(chunk, dict):
        return data
    if "error" in chunk and not chunk.get("choices"):
        raise _stream_error(call, chunk, data.decode("utf-8", "replace"))
    usage = chunk.get("usage")
    if usage is None:
        return data
    if isinstance(usage, dict):
        on_usage(usage)
    if include_usage:
        return data
    if not chunk.get("choices"):
        return None
    return orjson.dumps({k: v for k, v in chunk.items() if k != "usage"})


def _stream_error(call: Call, chunk: JSON, raw: str) -> UpstreamError:
    """An error sent inside a 200 stream (OpenAI does this on overload mid-answer)."""
    error: Any = chunk.get("error")
    text = orjson.dumps(error).decode().lower() if isinstance(error, dict) else str(error).lower()
    status = 500
    if "rate_limit" in text or "rate limit" in text:
        status = 429
    elif "invalid_request" in text:
        status = 400
    return upstream_error(status, raw, call.credential)


_LAST_EVENTS = {"response.completed", "response.incomplete", "response.failed"}


async def responses_events(
    call: Call, url: str, body: JSON, headers: Mapping[str, str]
) -> AsyncIterator[JSON]:
    """A Responses API event stream as dicts, until its last event; an ``error`` event
    before anything else is an upstream error (the router may still fall back)."""
    stream = await open_stream(call, "POST", url, json=body, headers=headers)
    try:
        async for _event, data in stream.events():
            if data == "[DONE]":
                return
            try:
                event = orjson.loads(data)
            except orjson.JSONDecodeError:
                raise UpstreamError(
                    f"Upstream ({call.credential.provider}) sent a stream event that is not JSON."
                ) from None
            if not isinstance(event, dict):
                continue
            if event.get("type") == "error":
                raise _stream_error(call, {"error": event}, data)
            yield event
            if event.get("type") in _LAST_EVENTS:
                return
    finally:
        await stream.aclose()
