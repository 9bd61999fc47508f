"""uvicorn's httptools protocol, sending each response's header block with its first
body bytes.

uvicorn writes a response's status line and headers the moment the app sends
``http.response.start``, and the body as a second write: two system calls and two TCP
segments per answer, and a caller that wakes for the headers only to wait again for the
body. An app sends its first body bytes in the same event-loop step as the start (a
JSON answer always; a stream whose first event is already read), so here the header
block is held until the next write, which takes it along, or until the end of the step,
whichever comes first: a stream whose first event is still to come gets its headers at
once, as before. After that the request's writes go straight to the transport again.

Measured by interleaved sequential calls with the gateway pinned to one core and the
caller on the other (one run, 4,000 calls each), the joined write took 0.08 ms off each
chat answer and off each stream's first byte: one write and one wake-up of the caller
fewer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# A copy of a body this small costs less than a second system call. Not ``writelines``:
# asyncio's own loop joins its parts anyway, and its selector transport's was unsafe on
# Python 3.12 before 3.12.9 (aiohttp's http_writer avoids it there too).
JOIN_BELOW = 64 * 1024


class HeldHeaders:
    """The transport of one request's cycle until its header block is out: the first
    write (the header block) is held, and goes out with the second, or alone at the end
    of the loop step. Either way the cycle then writes to the real transport again, so
    a stream's events pay for no wrapper."""

    __slots__ = ("_cycle", "_flush", "_held", "_loop", "_transport")

    def __init__(
        self, cycle: Any, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._cycle = cycle
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._flush: asyncio.Handle | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is None:
            self._held = data
            self._flush = self._loop.call_soon(self.flush)
            return
        self._held = None
        self._cycle.transport = self._transport
        if self._flush is not None:
            self._flush.cancel()  # cheaper than the call it spares
        if len(data) < JOIN_BELOW:
            self._transport.write(held + data)
        else:  # a copy of a large body would cost more than the second write
            self._transport.write(held)
            self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is None:  # gone out with the body already
            return
        self._held = None
        self._cycle.transport = self._transport
        if not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        # Everything else (is_closing, extra info) is the real transport's.
        return getattr(self._transport, name)


class JoiningHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` whose every request's answer holds its header block for
    its first body bytes (``HeldHeaders``)."""

    def on_headers_complete(self) -> None:
        HttpToolsProtocol.on_headers_complete(self)  # not super(): called per request
        cycle = self.cycle
        # Only the cycle just made for this request (an upgrade request makes none).
        if cycle is not None and cycle.scope is self.scope and cycle.transport is self.transport:
            holder: Any = HeldHeaders(cycle, self.transport, self.loop)
            cycle.transport = holder
