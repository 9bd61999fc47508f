"""The ``/v1`` dispatcher: a small ASGI app in front of the admin app.

Every ``/v1/*`` request is answered here — no FastAPI router, middleware stack or
dependency solving on the hot path: one dict lookup picks the handler, the handler reads
the body once (this module owns the gateway's body limit), and the answer goes out as
raw ASGI messages. Every error, including an unknown route, a wrong method and an
oversized body, is rendered in the envelope the caller's SDK parses (Anthropic's on
``/v1/messages``, OpenAI's elsewhere); an unexpected exception is logged as its type and
a request id, never its text.

Hooks (see ``context``): ``admission`` runs after the endpoint is known and before
routing (raise a KeyhouseError to refuse); ``on_complete`` runs once the answer is out.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from keyhouse.errors import (
    BadRequest,
    KeyhouseError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
)
from keyhouse.gateway.context import CallContext, Hook
from keyhouse.shared.envelopes import anthropic_error, openai_error

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.types import Receive, Scope, Send

    from keyhouse.gateway.routing import Router
    from keyhouse.gateway.types import Endpoint, Principal, Registry
    from keyhouse.gateway.upstream import Upstream

log = logging.getLogger("keyhouse.gateway")

JSON = dict[str, Any]
SessionCheck = Callable[["Request"], "Principal | None"]
# (the call so far, the endpoint it named, its body) -> raise a KeyhouseError to refuse
Admission = Callable[[CallContext, "Endpoint", JSON], Awaitable[None]]


class Answer:
    """What a handler returns: something that writes itself as ASGI messages."""

    async def write(self, send: Send, receive: Receive, ctx: CallContext) -> None:
        raise NotImplementedError


class JSONAnswer(Answer):
    __slots__ = ("body", "headers", "status")

    def __init__(
        self, data: Any, status: int = 200, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        self.body = data if isinstance(data, bytes) else orjson.dumps(data)
        self.status = status
        self.headers = headers

    async def write(self, send: Send, receive: Receive, ctx: CallContext) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self.body)).encode()),
        ]
        if self.headers:
            headers.extend(self.headers)
        if ctx.headers:
            headers.extend(ctx.headers)
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        ctx.first_byte()
        await send({"type": "http.response.body", "body": self.body})


_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class EventStreamAnswer(Answer):
    """Server-sent events; ``events`` ends with its own error event if the upstream
    fails, and is closed (releasing the upstream connection) however the stream ends.

    ``last``: how the stream's last event ends, when the format has one that nothing
    follows (OpenAI's ``data: [DONE]``). That event goes out with the end of the body,
    in one write, and the caller's stream is over at once: not after the upstream's own
    body has ended and the events are closed (``Stream.aclose`` waits for that end)."""

    __slots__ = ("events", "last")

    def __init__(self, events: AsyncIterator[bytes], last: bytes | None = None) -> None:
        self.events = events
        self.last = last

    async def write(self, send: Send, receive: Receive, ctx: CallContext) -> None:
        # uvicorn drops writes to a caller that went away; watch for it so the upstream
        # is not read to its end for nobody. The watcher starts once the first event is
        # out: a task made before it was time on every stream's first byte.
        gone: asyncio.Future[None] | None = None
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [*_SSE_HEADERS, *ctx.headers] if ctx.headers else _SSE_HEADERS,
                }
            )
            last = self.last
            async for event in self.events:
                ctx.first_byte()
                if last is not None and event.endswith(last):
                    await send({"type": "http.response.body", "body": event, "more_body": False})
                    return  # the events are closed below, after the caller has it all
                await send({"type": "http.response.body", "body": event, "more_body": True})
                if gone is None:
                    gone = asyncio.ensure_future(_disconnected(receive))
                elif gone.done():
                    ctx.failed(499, "client_closed_request")
                    break
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            if gone is not None:
                gone.cancel()
            aclose = getattr(self.events, "aclose", None)
            if aclose is not None:
                await aclose()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class GatewayRequest:
    """The parts of an ASGI request the handlers use; parsed lazily."""

    __slots__ = ("_headers", "gateway", "path_param", "receive", "scope")

    def __init__(
        self, gateway: Gateway, scope: Scope, receive: Receive, path_param: str = ""
    ) -> None:
        self.gateway = gateway
        self.scope = scope
        self.receive = receive
        self.path_param = path_param
        self._headers: dict[str, str] | None = None

    @property
    def headers(self) -> dict[str, str]:
        if self._headers is None:
            self._headers = {
                k.decode("latin-1").lower(): v.decode("latin-1") for k, v in self.scope["headers"]
            }
        return self._headers

    def starlette(self) -> Request:
        from starlette.requests import Request

        return Request(self.scope, self.receive)

    async def json(self) -> JSON:
        """The body as a JSON object; 413 past the limit, 400 when it is not JSON."""
        limit = self.gateway.max_body_bytes
        declared = self.headers.get("content-length")
        if declared is not None:
            try:
                too_large = int(declared) > limit
            except ValueError:
                raise BadRequest("The Content-Length header is not a number.") from None
            if too_large:
                raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
        parts: list[bytes] = []
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise BadRequest("The caller went away before sending the body.")
            part = message.get("body", b"")
            if part:
                size += len(part)
                if size > limit:
                    raise PayloadTooLarge(f"The request body is larger than {limit} bytes.")
                parts.append(part)
            if not message.get("more_body", False):
                break
        raw = parts[0] if len(parts) == 1 else b"".join(parts)
        if not raw:
            raise BadRequest("The request body is empty; send a JSON object.")
        try:
            data = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise BadRequest("The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise BadRequest("The request body must be a JSON object.")
        return data


Handler = Callable[[GatewayRequest, CallContext], Awaitable[Answer]]


@dataclass(slots=True)
class _Route:
    methods: dict[str, Handler] = field(default_factory=dict)


class Gateway:
    """Answers ``/v1/*``. Built by the app factory; ``upstream`` is set by the lifespan."""

    def __init__(
        self,
        *,
        registry: Registry,
        router: Router,
        max_body_bytes: int,
        session_check: SessionCheck | None = None,
    ) -> None:
        self.registry = registry
        self.router = router
        self.max_body_bytes = max_body_bytes
        self.session_check = session_check
        self.upstream: Upstream | None = None
        self.admission: list[Admission] = []
        self.on_complete: list[Hook] = []
        self._exact: dict[str, _Route] = {}
        self._prefixed: list[tuple[str, _Route]] = []

    # --- routes -----------------------------------------------------------------------

    def add_route(self, path: str, method: str, handler: Handler) -> None:
        """``path`` ending in ``/{rest}`` matches any path under it (the rest is the
        request's ``path_param``)."""
        if path.endswith("/{rest}"):
            prefix = path.removesuffix("{rest}")
            route = next((r for p, r in self._prefixed if p == prefix), None)
            if route is None:
                route = _Route()
                self._prefixed.append((prefix, route))
                self._prefixed.sort(key=lambda item: -len(item[0]))
        else:
            route = self._exact.setdefault(path, _Route())
        route.methods[method.upper()] = handler

    def _match(self, path: str) -> tuple[_Route | None, str]:
        route = self._exact.get(path)
        if route is not None:
            return route, ""
        for prefix, candidate in self._prefixed:
            if path.startswith(prefix) and len(path) > len(prefix):
                return candidate, path[len(prefix) :]
        return None, ""

    async def admit(self, ctx: CallContext, endpoint: Endpoint, body: JSON) -> None:
        for check in self.admission:
            await check(ctx, endpoint, body)

    # --- ASGI -------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        ctx = CallContext(route=path)
        route, rest = self._match(path)
        try:
            try:
                if route is None:
                    raise NotFound(f"No route {path!r}.")
                handler = route.methods.get(scope["method"])
                if handler is None:
                    raise MethodNotAllowed(
                        f"{scope['method']} is not allowed on {path}.",
                        allow=", ".join(sorted(route.methods)),
                    )
                answer = await handler(GatewayRequest(self, scope, receive, rest), ctx)
            except KeyhouseError as exc:
                answer = self.error_answer(path, exc, ctx)
            except Exception as exc:
                answer = self.unexpected(scope, exc, ctx)
            await answer.write(send, receive, ctx)
        except BaseException:
            if ctx.error_code is None:  # cancelled, or the caller went away mid-write
                ctx.failed(499, "client_closed_request")
            raise
        finally:
            # Every call ends here, however it ended: a hook that took a slot at
            # admission can rely on this to give it back.
            ctx.finish()
            for hook in self.on_complete:
                try:
                    hook(ctx)
                except Exception as exc:
                    log.error("on_complete hook failed: %s", type(exc).__name__)

    def error_answer(self, path: str, exc: KeyhouseError, ctx: CallContext) -> JSONAnswer:
        status, body = (
            anthropic_error(exc) if path.startswith("/v1/messages") else openai_error(exc)
        )
        ctx.failed(status, exc.code)
        headers: list[tuple[bytes, bytes]] = []
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            headers.append((b"retry-after", str(int(retry_after)).encode()))
        headers.extend(
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in exc.headers.items()
            if k != "retry-after" or retry_after is None
        )
        allow = exc.details.get("allow") if status == 405 else None
        if isinstance(allow, str):
            headers.append((b"allow", allow.encode()))
        if status >= 500:
            log.warning("%s %s -> %s %s", "gateway", path, status, exc.code)
        return JSONAnswer(body, status, headers)

    def unexpected(self, scope: Scope, exc: Exception, ctx: CallContext) -> JSONAnswer:
        # A foreign exception's text may carry a value (a secret, a body): log its type
        # and an id the caller can quote, never its message.
        request_id = "req_" + secrets.token_hex(8)
        log.error(
            "unexpected %s on %s %s (request %s)",
            type(exc).__name__,
            scope.get("method"),
            scope["path"],
            request_id,
        )
        answer = self.error_answer(
            scope["path"], KeyhouseError(f"Internal error (request {request_id})."), ctx
        )
        answer.headers = [*(answer.headers or []), (b"x-request-id", request_id.encode())]
        return answer
