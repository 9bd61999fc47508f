"""One gateway call as it happens: started by the route once the endpoint is known,
told about each upstream attempt by the router, finished when the answer (or its
stream) ends — then counted, traced and queued, never waited on.

The route wraps what it awaits::

    call = usage.call(principal, endpoint, "chat", stream=False)
    answer = await call.complete(router.chat(..., observer=call))
    opened = await call.opening(router.chat_stream(..., observer=call))

and the router wraps each attempt in ``call.attempt(position, target, credential, ...)``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from keyhouse.errors import KeyhouseError
from keyhouse.gateway.routing import OpenStream, close_iterator
from keyhouse.gateway.types import Endpoint, Principal, Target
from keyhouse.providers.base import Credential
from keyhouse.usage.record import Operation, UsageRecord, tokens_from_usage

if TYPE_CHECKING:
    from keyhouse.usage.prices import PriceOverride

T = TypeVar("T")
JSON = dict[str, Any]


class Finisher(Protocol):
    def attempted(self, provider: str, outcome: str) -> None: ...

    def price(self, record: UsageRecord, override: PriceOverride | None,
              auth_method: str | None) -> float | None: ...

    def finished(self, record: UsageRecord, auth_method: str | None, start_ns: int) -> None: ...


class CallRecorder:
    __slots__ = ("_auth_method", "_done", "_owner", "_start_ns", "_t0", "_target", "_usage",
                 "record")

    def __init__(self, owner: Finisher, principal: Principal, endpoint: Endpoint,
                 operation: Operation, stream: bool) -> None:
        self._owner = owner
        self._t0 = time.perf_counter()
        self._start_ns = time.time_ns()
        self._target: Target | None = None
        self._auth_method: str | None = None
        self._usage: Any = None
        self._done = False
        self.record = UsageRecord(
            operation=operation, endpoint_id=endpoint.id, endpoint_name=endpoint.name,
            token_id=None if principal.is_admin else principal.token_id,
            token_name=None if principal.is_admin else principal.name,
            is_admin=principal.is_admin, stream=stream)

    def _elapsed_ms(self) -> float:
        return (time.perf_counter() - self._t0) * 1000

    # --- the router's side ----------------------------------------------------------

    async def attempt(self, position: int, target: Target, credential: Credential,
                      pending: Awaitable[T]) -> T:
        """One request upstream: which key and model it went to, and how it ended."""
        record = self.record
        record.attempts += 1
        record.fallback_used = position > 0
        record.key_id = credential.key_id
        record.key_name = target.key_name
        record.credential_version = target.credential_version
        record.provider = credential.provider
        record.model = target.model
        self._target = target
        self._auth_method = credential.auth_method
        try:
            result = await pending
        except KeyhouseError as exc:
            self._owner.attempted(credential.provider, exc.code)
            raise
        except BaseException:
            self._owner.attempted(credential.provider, "error")
            raise
        self._owner.attempted(credential.provider, "ok")
        return result

    # --- the route's side -----------------------------------------------------------

    async def complete(self, pending: Awaitable[JSON]) -> JSON:
        """Await a whole answer (chat, embeddings) and record it."""
        try:
            answer = await pending
        except BaseException as exc:
            self.fail(exc)
            raise
        self.finish(200, None, answer.get("usage"), ttfb_ms=None)
        return answer

    async def opening(self, pending: Awaitable[OpenStream]) -> OpenStream:
        """Await a stream's first chunk; the record is finished when the stream ends."""
        try:
            opened = await pending
        except BaseException as exc:
            self.fail(exc)
            raise
        ttfb = self._elapsed_ms()
        if opened.first is not None and opened.first.get("usage"):
            self._usage = opened.first["usage"]
        return OpenStream(opened.first, self._watch(opened.rest, ttfb), opened.credential)

    async def _watch(self, rest: AsyncIterator[JSON], ttfb: float) -> AsyncIterator[JSON]:
        status, code = 200, None
        try:
            async for chunk in rest:
                if chunk.get("usage"):
                    self._usage = chunk["usage"]
                yield chunk
        except KeyhouseError as exc:
            status, code = exc.status, exc.code
            raise
        except Exception:
            status, code = 500, "internal_error"
            raise
        except BaseException:
            # GeneratorExit or cancellation: the caller went away mid-stream.
            status, code = 499, "client_closed"
            raise
        finally:
            try:
                await close_iterator(rest)
            finally:
                self.finish(status, code, self._usage, ttfb_ms=ttfb)

    def fail(self, exc: BaseException) -> None:
        if isinstance(exc, KeyhouseError):
            self.finish(exc.status, exc.code, None, ttfb_ms=None)
        elif isinstance(exc, Exception):
            self.finish(500, "internal_error", None, ttfb_ms=None)
        else:
            self.finish(499, "client_closed", None, ttfb_ms=None)

    def finish(self, status: int, error_code: str | None, usage: Any,
               ttfb_ms: float | None) -> None:
        if self._done:
            return
        self._done = True
        record = self.record
        record.latency_ms = self._elapsed_ms()
        record.ttfb_ms = record.latency_ms if ttfb_ms is None else ttfb_ms
        record.status, record.error_code = status, error_code
        tokens = tokens_from_usage(usage)
        if tokens is not None:
            record.input_tokens = tokens.input
            record.output_tokens = tokens.output
            record.cached_input_tokens = tokens.cached_input
            override = self._target.price if self._target is not None else None
            record.cost_usd = self._owner.price(record, override, self._auth_method)
        self._owner.finished(record, self._auth_method, self._start_ns)
