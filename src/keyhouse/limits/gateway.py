"""The gateway's hooks: admit a call, observe its usage, settle when its answer is out.

A route calls ``admit`` once it knows the principal, the endpoint and the body, and runs
the rest inside ``settled_on_error``; ``respond`` makes the response settle after its last
byte was sent — or when the caller went away, or the send failed — so a concurrency slot
comes back on every path. Every function takes ``None`` (no limit applies) and then does
nothing, which keeps unlimited calls as fast as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from keyhouse.gateway.routing import OpenStream
from keyhouse.gateway.types import Endpoint, Principal
from keyhouse.limits.admission import Admission, Limiter

JSON = dict[str, Any]


async def admit(request: Request, principal: Principal, endpoint: Endpoint,
                body: JSON) -> Admission | None:
    limiter: Limiter | None = getattr(request.app.state, "limiter", None)
    if limiter is None:
        return None
    return await limiter.admit(principal, endpoint, body)


@contextlib.asynccontextmanager
async def settled_on_error(admission: Admission | None) -> AsyncIterator[None]:
    """Settle at once when the call fails before it has a response (upstream error,
    cancellation); the error answer carries the limit headers too."""
    if admission is None:
        yield
        return
    try:
        yield
    except BaseException as exc:
        headers = getattr(exc, "headers", None)
        if isinstance(headers, dict):
            for name, value in admission.headers.items():
                headers.setdefault(name, value)
        admission.nothing_used()
        with anyio.CancelScope(shield=True):
            await admission.finish()
        raise


def observe(admission: Admission | None, answer: JSON) -> JSON:
    if admission is not None:
        admission.observe(answer)
    return answer


def watch(admission: Admission | None, stream: OpenStream) -> OpenStream:
    """The same stream, noting the usage chunk as it passes."""
    if admission is None:
        return stream
    if stream.first is not None:
        admission.observe(stream.first)
    return OpenStream(stream.first, _Watched(admission, stream), stream.credential)


class _Watched:
    """An iterator, not a generator: closing it closes the upstream stream even when it
    was never iterated (the caller left before the first event went out)."""

    def __init__(self, admission: Admission, stream: OpenStream) -> None:
        self._admission = admission
        self._stream = stream

    def __aiter__(self) -> _Watched:
        return self

    async def __anext__(self) -> JSON:
        chunk = await anext(self._stream.rest)
        if chunk.get("usage") is not None:
            self._admission.observe(chunk)
        return chunk

    async def aclose(self) -> None:
        await self._stream.aclose()


def respond(admission: Admission | None, response: Response) -> Response:
    if admission is None:
        return response
    response.headers.update(admission.headers)
    return _Settling(response, admission)


class _Settling(Response):
    """Sends the inner response, then settles the admission whatever happened."""

    def __init__(self, inner: Response, admission: Admission) -> None:
        # Not Response.__init__: the inner response already rendered its body and headers.
        self.inner = inner
        self.admission = admission
        self.status_code = inner.status_code
        self.raw_headers = inner.raw_headers
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.inner(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.admission.finish()
