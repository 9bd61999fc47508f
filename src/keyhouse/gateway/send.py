"""The one send path every provider adapter uses, over the shared ``Upstream`` client
(``gateway.upstream``).

``send`` reads a whole answer, ``open_stream`` returns one whose body is still to come;
both turn an error status into the error tree before a byte reaches the caller (so the
router can still retry or fall back). ``Stream`` is the one stream loop: raw chunks,
or server-sent events. ``_translated`` is the one place where aiohttp's exceptions become
Keyhouse errors.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from multidict import CIMultiDictProxy
from yarl import URL

from keyhouse.errors import (
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    UpstreamURLRefused,
)

if TYPE_CHECKING:
    from keyhouse.providers.base import Call, Credential

JSON = dict[str, Any]
# ``haystack.find(needle) != -1``, not ``needle in haystack``, for bytes on the hot path:
# on Python 3.11 ``in`` first tries the needle as an integer (a byte value) and raises
# and clears a TypeError, about 2,000 instructions a test (tests/unit/test_hot_path.py).
__all__ = ["Reply", "Stream", "object_bytes", "open_stream", "parse_object", "send", "send_json"]
ErrorMapper = Callable[[int, str, "Credential", "float | None"], UpstreamError]


# --- the one place aiohttp's exceptions become Keyhouse errors ---------------------------


class _translated:
    """Inside it, aiohttp's exceptions become Keyhouse errors. A class, not a
    ``contextlib.contextmanager``: it is entered two or three times per upstream call,
    and a generator-based one costs a generator and a wrapper object each time."""

    __slots__ = ("credential",)

    def __init__(self, credential: Credential) -> None:
        self.credential = credential

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        if exc is None:
            return
        credential = self.credential
        if isinstance(exc, (aiohttp.InvalidUrlClientError, aiohttp.NonHttpUrlClientError)):
            raise UpstreamURLRefused(
                "Upstream URL refused: only http(s) URLs are allowed."
            ) from None
        if isinstance(exc, (TimeoutError, aiohttp.ServerTimeoutError)):
            raise UpstreamTimeout(
                f"Upstream ({credential.provider}) did not answer in time."
            ) from None
        if isinstance(exc, (aiohttp.ClientError, OSError)):
            # The exception text may hold the URL, and a URL may hold a secret: never echo it.
            raise UpstreamUnavailable(
                f"Upstream ({credential.provider}) could not be reached: "
                f"{credential.redact(type(exc).__name__)}."
            ) from None


def retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _default_mapper() -> ErrorMapper:
    from keyhouse.providers.base import upstream_error

    return upstream_error


# --- requests -------------------------------------------------------------------------


@dataclass(slots=True)
class Reply:
    """A whole upstream answer."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def _payload(
    json: Any,
    form: Mapping[str, str] | None,
    content: bytes | None,
    headers: Mapping[str, str] | None,
) -> tuple[bytes | None, dict[str, str]]:
    out = dict(headers) if headers else {}
    if json is not None:
        out.setdefault("content-type", "application/json")
        return orjson.dumps(json), out
    if form is not None:
        from urllib.parse import urlencode

        out.setdefault("content-type", "application/x-www-form-urlencoded")
        return urlencode(form).encode(), out
    return content, out


def _url(url: str) -> URL:
    """The URL as the adapter built it: its percent-escapes are kept as they are (a
    SigV4 signature covers them); only a URL with characters that cannot go on the wire
    as they are (spaces, non-ASCII, an IDN host) is encoded."""
    if url.isascii() and " " not in url:
        return URL(url, encoded=True)
    return URL(url)


async def _open(
    call: Call,
    method: str,
    url: str | URL,
    json: Any,
    form: Mapping[str, str] | None,
    content: bytes | None,
    headers: Mapping[str, str] | None,
    params: Mapping[str, str] | None,
) -> aiohttp.ClientResponse:
    data, out_headers = _payload(json, form, content, headers)
    target = url if isinstance(url, URL) else _url(url)
    # Before aiohttp sees it: aiohttp would turn userinfo into a Basic auth header and
    # strip it from the URL its middleware judges.
    call.client.vet(target)
    with _translated(call.credential):
        return await call.client.session.request(
            method,
            target,
            data=data,
            headers=out_headers,
            params=params,
            allow_redirects=False,
            timeout=call.timeout.client_timeout,
            # Vetted above, and no redirect is followed: the session's middleware, which
            # judges anything else sent through the session, would judge it again (1.4 %
            # of a call's instructions).
            middlewares=(),
        )


async def _raise_for_status(
    call: Call, response: aiohttp.ClientResponse, on_error: ErrorMapper | None
) -> None:
    if response.status < 300:
        return
    try:
        with _translated(call.credential):
            body = await response.read()
    finally:
        response.release()
    mapper = on_error or _default_mapper()
    raise mapper(
        response.status,
        body.decode("utf-8", "replace"),
        call.credential,
        retry_after(response.headers),
    )


async def send(
    call: Call,
    method: str,
    url: str | URL,
    *,
    json: Any = None,
    form: Mapping[str, str] | None = None,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    on_error: ErrorMapper | None = None,
) -> Reply:
    """Send and read the whole answer; an error status becomes an UpstreamError."""
    response = await _open(call, method, url, json, form, content, headers, params)
    await _raise_for_status(call, response, on_error)
    try:
        with _translated(call.credential):
            body = await response.read()
    finally:
        response.release()
    return Reply(response.status, response.headers, body)


async def send_json(call: Call, method: str, url: str | URL, **kwargs: Any) -> JSON:
    """``send``, and the answer as a JSON object."""
    reply = await send(call, method, url, **kwargs)
    return parse_object(call, reply.body)


def object_bytes(call: Call, body: bytes) -> bytes:
    """``body`` if it has the shape of a JSON object, for relaying it unparsed; a body
    that plainly is not one (an HTML error page behind a 200) is an UpstreamError, so
    the router can still fall back."""
    stripped = body.strip()
    if not (stripped.startswith(b"{") and stripped.endswith(b"}")):
        raise UpstreamError(f"Upstream ({call.credential.provider}) sent a body that is not JSON.")
    return body


def parse_object(call: Call, body: bytes) -> JSON:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UpstreamError(
            f"Upstream ({call.credential.provider}) sent a body that is not JSON."
        ) from None
    if not isinstance(data, dict):
        raise UpstreamError(f"Upstream ({call.credential.provider}) sent unexpected JSON.")
    return data


async def open_stream(
    call: Call,
    method: str,
    url: str | URL,
    *,
    json: Any = None,
    content: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    on_error: ErrorMapper | None = None,
) -> Stream:
    """Send; the answer's body is still to be read (close the Stream). An error status
    is read whole and raised before any byte reaches the caller."""
    response = await _open(call, method, url, json, None, content, headers, params)
    await _raise_for_status(call, response, on_error)
    return Stream(call.credential, response)


class Stream:
    """A streamed answer: the one stream loop (raw chunks, or server-sent events)."""

    # A stream adapter stops at the provider's last event ([DONE], message_stop), a few
    # bytes before the body's own end (the chunked terminator). A connection whose body
    # was not read to its end is closed, not reused, so every streamed answer would cost
    # a new TCP (and TLS) connection: on close, read what is left when it is little and
    # already arriving. A body that is not about to end is cut as before.
    drain_bytes = 64 * 1024
    drain_seconds = 0.1

    def __init__(self, credential: Credential, response: aiohttp.ClientResponse) -> None:
        self.credential = credential
        self.response = response
        self.status = response.status
        self.headers = response.headers

    async def _read(self) -> bytes:
        try:
            return await self.response.content.readany()
        except Exception:
            with _translated(self.credential):
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive."""
        while chunk := await self._read():
            yield chunk

    async def blocks(self) -> AsyncIterator[list[bytes]]:
        """Per read from the network, the server-sent events it completed, as raw blocks
        (LF line ends, without their blank line)."""
        async for frame in self.frames():
            yield [block for block in frame.split(b"\n\n") if block]

    async def frames(self) -> AsyncIterator[bytes]:
        """Per read from the network, the server-sent events it completed as one run of
        bytes (LF line ends, each event ending in its blank line): for relaying a run
        whole, without splitting it into events (``blocks``) when nothing in it needs
        a look. A CR, or the start of an event, left at the end waits for the next read."""
        buffer = b""
        while chunk := await self._read():
            buffer = _lf(buffer + chunk if buffer else chunk)
            end = buffer.rfind(b"\n\n")
            if end >= 0:
                end += 2
                frame, buffer = buffer[:end], buffer[end:]
                yield frame
        if buffer.strip(b"\r\n"):
            yield buffer.rstrip(b"\r\n") + b"\n\n"

    async def events(self) -> AsyncIterator[tuple[str, str]]:
        """``(event, data)`` pairs of a server-sent event stream.

        The common event — one ``data:`` line — takes a fast path of one slice; anything
        else (names, ids, comments, multi-line data) is parsed field by field as the SSE
        spec reads it."""
        async for blocks in self.blocks():
            for block in blocks:
                if block.startswith(b"data: ") and block.find(b"\n") == -1:
                    yield "", block[6:].decode("utf-8", "replace")
                    continue
                for parsed in _parse_events(block + b"\n\n"):
                    yield parsed

    async def aclose(self) -> None:
        response = self.response
        content = response.content
        if not content.at_eof():
            left = self.drain_bytes
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.drain_seconds):
                    while left >= 0 and not content.at_eof():
                        chunk = await content.readany()
                        if not chunk:
                            break
                        left -= len(chunk)
        response.release()


def _lf(buffer: bytes) -> bytes:
    """CRLF or CR line ends read as LF; a CR at the end is kept, since it may be the
    first half of a CRLF split across two reads."""
    if buffer.find(b"\r") == -1:
        return buffer
    cut = buffer.endswith(b"\r")
    body = (buffer[:-1] if cut else buffer).replace(b"\r\n", b"\n")
    return body.replace(b"\r", b"\n") + (b"\r" if cut else b"")


def _parse_events(text: bytes) -> list[tuple[str, str]]:
    """Events in ``text``, read line by line (CR, LF or CRLF line ends)."""
    events: list[tuple[str, str]] = []
    event, data_lines = "", list[str]()
    for raw in (
        text.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    ):
        if not raw:
            if data_lines:
                events.append((event, "\n".join(data_lines)))
            event, data_lines = "", []
            continue
        if raw[0] == ":":
            continue
        name, _, value = raw.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "data":
            data_lines.append(value)
        elif name == "event":
            event = value
    return events
