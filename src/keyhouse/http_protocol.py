"""uvicorn's httptools protocol, sending each response's header block with its first
body bytes.

uvicorn writes a response's status line and headers the moment the app sends
``http.response.start``, and the body as a second write: two system calls and two TCP
segments per answer, and a caller that wakes for the headers only to wait again for the
body. An app sends its first body bytes in the same event-loop step as the start (a
JSON answer always; a stream whose first event is already read), so here the header
block is held until the next write, which takes it along, or until the end of the step,
whichever comes first: a stream whose first event is still to come gets its headers at
once, as before. Nothing else changes: every other write goes straight through.

Measured by interleaved sequential calls with the gateway pinned to one core and the
caller on the other (one run, 4,000 calls each), the joined write took 0.08 ms off each
chat answer and off each stream's first byte: one write and one wake-up of the caller
fewer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# Not ``writelines``: asyncio's own loop joins its parts anyway, and its selector
# transport's was unsafe on Python 3.12 before 3.12.9 (aiohttp's http_writer avoids it
# there too). A copy of a body this small costs less than a system call.
JOIN_BELOW = 64 * 1024


class JoiningTransport:
    """A transport whose next write, once ``hold_next`` is called, waits for the write
    after it (they go out as one) or for the end of the loop step, whichever is first."""

    __slots__ = ("_held", "_hold", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._hold = False
        self._held: bytes | None = None

    def hold_next(self) -> None:
        self._hold = True

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if len(data) < JOIN_BELOW:
                self._transport.write(held + data)
            else:  # a copy of a large body would cost more than the second write
                self._transport.write(held)
                self._transport.write(data)
        elif self._hold:
            self._hold = False
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        # Everything else (extra info, flow control, abort) is the real transport's.
        return getattr(self._transport, name)


class JoiningHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` over a ``JoiningTransport``: the header block of each
    request's answer is held for its first body bytes."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        joining: Any = JoiningTransport(transport, self.loop)
        super().connection_made(joining)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        transport = self.transport
        if isinstance(transport, JoiningTransport):
            transport.hold_next()
