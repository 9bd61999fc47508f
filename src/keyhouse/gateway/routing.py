"""Which target serves a request, and what happens when it fails.

The order of targets for one request: one primary drawn by weight (the traffic split),
then the other primaries in a weighted draw (they share the load, so they are the
likeliest to be healthy), then the fallbacks in their configured order.

One retry loop walks that order. Each target gets ``1 + max_retries`` attempts, retried
only when another attempt is safe and may help: 429 (waiting Retry-After when the
upstream sent one no longer than ``max_retry_after``), 5xx, connect errors and timeouts,
with exponential backoff and jitter. Errors that another target may not share (bad
credential, unknown model, no key, the provider lacks the task) move straight to the
next target; a 400 is the caller's own request, which every target would refuse, so it
ends the loop. When every target failed, the last error is the answer.

For streams an attempt counts as done once its first chunk arrived: until then nothing
went to the caller, so a failure can still be retried or fall back; after that an error
becomes an event in the stream (see ``streaming``).
"""

from __future__ import annotations

import functools
import logging
import random
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio

from keyhouse.errors import (
    KeyhouseError,
    NoKey,
    Unsupported,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamURLRefused,
)
from keyhouse.gateway.context import CallContext
from keyhouse.gateway.types import Endpoint, Registry, Target
from keyhouse.gateway.upstream import Timeouts, Upstream
from keyhouse.providers import catalog
from keyhouse.providers.base import Call, Credential, ProviderAdapter
from keyhouse.providers.registry import Adapters

log = logging.getLogger("keyhouse.gateway")

JSON = dict[str, Any]
T = TypeVar("T")
Attempt = Callable[[ProviderAdapter, Call, JSON], Awaitable[T]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retry_after: float = 5.0  # a longer Retry-After moves on to the next target
    backoff_base: float = 0.25
    backoff_max: float = 4.0


@dataclass(slots=True)
class OpenStream:
    """A stream whose first chunk has arrived (``first`` is None for an empty stream).

    ``relayed``: the chunks are the caller's SSE bytes already (an OpenAI-framed
    upstream relayed as it is), not chunk dicts to frame."""

    first: Any
    rest: AsyncIterator[Any]
    credential: Credential
    relayed: bool = False

    async def aclose(self) -> None:
        await close_iterator(self.rest)


def plan(endpoint: Endpoint, rng: random.Random) -> list[Target]:
    """The order in which targets are tried for one request."""
    targets = endpoint.targets
    if len(targets) == 1:
        return [targets[0]]
    primaries = [t for t in targets if t.role == "primary"]
    fallbacks = [t for t in targets if t.role != "primary"]
    ordered: list[Target] = []
    while primaries:
        total = sum(max(t.weight, 0) for t in primaries)
        index = 0
        if total > 0:
            point = rng.random() * total
            for index, t in enumerate(primaries):  # noqa: B007 (index is the result)
                point -= max(t.weight, 0)
                if point < 0:
                    break
        ordered.append(primaries.pop(index))
    return ordered + fallbacks


@functools.lru_cache(maxsize=256)
def _timeout(read: float, connect: float) -> Timeouts:
    return Timeouts(read=read, connect=connect)


async def close_iterator(iterator: AsyncIterator[Any]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()


def log_unexpected(exc: BaseException, where: str, credential: Credential | None) -> None:
    """Log a bug as its type and where it happened (file, line, function per frame),
    never its message: a foreign exception's text may quote a body or a secret."""
    frames = "".join(
        f"\n  {frame.filename}:{frame.lineno} in {frame.name}"
        for frame in traceback.extract_tb(exc.__traceback__)
    )
    if credential is not None:
        frames = credential.redact(frames)
    log.error("%s: unexpected %s%s", where, type(exc).__name__, frames)


class Router:
    """The retry loop. One per app (``create_app`` makes it with the app's adapters)."""

    def __init__(
        self,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        policy: RetryPolicy = RetryPolicy(),
        adapters: Adapters | None = None,
    ) -> None:
        self.rng = rng or random.Random()  # noqa: S311 (load balancing, not crypto)
        self.sleep = sleep
        self.policy = policy
        self.adapters = adapters or Adapters()

    async def chat(
        self,
        registry: Registry,
        client: Upstream,
        endpoint: Endpoint,
        request: JSON,
        ctx: CallContext | None = None,
    ) -> JSON:
        return await self._run(registry, client, endpoint, request, _chat, ctx)

    async def chat_relayed(
        self,
        registry: Registry,
        client: Upstream,
        endpoint: Endpoint,
        request: JSON,
        ctx: CallContext | None = None,
    ) -> JSON | bytes:
        """``chat``, but an adapter that needs no conversion hands back the upstream's
        JSON bytes untouched (the caller relays them)."""
        return await self._run(registry, client, endpoint, request, _chat_relayed, ctx)

    async def embeddings(
        self,
        registry: Registry,
        client: Upstream,
        endpoint: Endpoint,
        request: JSON,
        ctx: CallContext | None = None,
    ) -> JSON:
        return await self._run(registry, client, endpoint, request, _embeddings, ctx)

    async def chat_stream(
        self,
        registry: Registry,
        client: Upstream,
        endpoint: Endpoint,
        request: JSON,
        ctx: CallContext | None = None,
    ) -> OpenStream:
        return await self._run(registry, client, endpoint, request, _open_stream, ctx)

    async def chat_stream_relayed(
        self,
        registry: Registry,
        client: Upstream,
        endpoint: Endpoint,
        request: JSON,
        include_usage: bool,
        ctx: CallContext | None = None,
    ) -> OpenStream:
        """``chat_stream`` for a caller of /v1/chat/completions: a target whose upstream
        frames its stream as OpenAI does is relayed as bytes (``OpenStream.relayed``);
        any other is converted chunk by chunk, as ``chat_stream`` does."""

        def usage(value: JSON) -> None:
            if ctx is not None:
                ctx.usage = value

        async def attempt(adapter: ProviderAdapter, call: Call, body: JSON) -> OpenStream:
            relayed = adapter.chat_stream_relayed(call, body, include_usage, usage)
            if relayed is None:
                return await _open_stream(adapter, call, body)
            return await _first(relayed, call, relayed=True)

        return await self._run(registry, client, endpoint, request, attempt, ctx)

    async def run(
        self,
        registry: Registry,
        client: Upstream,
        endpoint: Endpoint,
        request: JSON,
        attempt: Attempt[T],
        ctx: CallContext | None = None,
    ) -> T:
        """Any other operation (the Responses and Messages APIs) through the same retry
        and fallback loop: ``attempt(adapter, call, body)`` is one try on one target."""
        return await self._run(registry, client, endpoint, request, attempt, ctx)

    def retry_delay(self, exc: UpstreamError, tries: int, max_retries: int) -> float | None:
        """Seconds to wait before trying the same target again, or None to move on."""
        if not exc.retryable or tries >= max_retries:
            return None
        if exc.upstream_status is not None and 300 <= exc.upstream_status < 400:
            return None  # a redirect is not followed, and asking again will not change it
        retry_after: float | None = exc.retry_after
        if retry_after is not None:
            return retry_after if retry_after <= self.policy.max_retry_after else None
        delay = min(self.policy.backoff_max, self.policy.backoff_base * 2.0**tries)
        return delay * (0.5 + self.rng.random() / 2)  # jitter: spread herds of retries

    async def _run(
        self,
        registry: Registry,
        client: Upstream,
        endpoint: Endpoint,
        request: JSON,
        attempt: Attempt[T],
        ctx: CallContext | None,
    ) -> T:
        last: KeyhouseError | None = None
        targets = plan(endpoint, self.rng)
        for position, target in enumerate(targets):
            if ctx is not None:
                ctx.target(position, target)
            try:
                adapter, call = self._prepare(registry, client, endpoint, target)
            except KeyhouseError as exc:
                _log_failure(endpoint, position, target, 0, exc, None)
                last = exc
                continue
            if ctx is not None:
                ctx.credential(call.credential)
            body = {**request, "model": target.model}
            tries = 0
            while True:
                if ctx is not None:
                    ctx.attempts += 1
                try:
                    return await attempt(adapter, call, body)
                except UpstreamBadRequest as exc:
                    _log_failure(endpoint, position, target, tries, exc, call.credential, ctx)
                    raise
                except UpstreamError as exc:
                    _log_failure(endpoint, position, target, tries, exc, call.credential, ctx)
                    last = exc
                    delay = self.retry_delay(exc, tries, endpoint.max_retries)
                    if delay is None:
                        break
                    tries += 1
                    if delay > 0:
                        await self.sleep(delay)
                except UpstreamURLRefused as exc:
                    # Raised by the shared client's connect-time guard: the key's URL now
                    # points somewhere forbidden. The caller did nothing wrong: 502.
                    _log_failure(endpoint, position, target, tries, exc, call.credential, ctx)
                    last = UpstreamError(
                        f"The upstream address of this endpoint's key is "
                        f"not allowed ({exc.message})"
                    )
                    break
                except KeyhouseError as exc:  # Unsupported, NoKey raised by an adapter
                    _log_failure(endpoint, position, target, tries, exc, call.credential, ctx)
                    last = exc
                    break
                except Exception as exc:
                    # A bug in an adapter (most often an upstream answer of a shape it did
                    # not expect): another target may still serve the request.
                    log_unexpected(
                        exc, f"endpoint {endpoint.name!r} target {position}", call.credential
                    )
                    if ctx is not None:
                        ctx.failures.append("unexpected_error")
                    last = UpstreamError(
                        f"The answer of provider {call.credential.provider!r} could not be handled."
                    )
                    break
        raise last if last is not None else NoKey()

    def _prepare(
        self, registry: Registry, client: Upstream, endpoint: Endpoint, target: Target
    ) -> tuple[ProviderAdapter, Call]:
        if target.key_id is None:
            raise NoKey()
        credential = registry.credential(target.key_id)
        spec = catalog.get(credential.provider)
        if spec is None:
            raise Unsupported(f"Provider {credential.provider!r} is not in the catalog.")
        adapter = self.adapters.get(spec, credential.auth_method)
        call = Call(
            client=client,
            credential=credential,
            model=target.model,
            timeout=_timeout(endpoint.timeout_seconds, endpoint.connect_timeout_seconds),
        )
        return adapter, call


def _log_failure(
    endpoint: Endpoint,
    position: int,
    target: Target,
    tries: int,
    exc: KeyhouseError,
    credential: Credential | None,
    ctx: CallContext | None = None,
) -> None:
    if ctx is not None:
        ctx.failures.append(exc.code)
    # Messages of the tree are safe by contract; scrub anyway, the credential is at hand.
    message = credential.redact(exc.message) if credential is not None else exc.message
    log.warning(
        "endpoint %r target %d (%s %s) attempt %d: %s %s",
        endpoint.name,
        position,
        target.provider,
        target.model,
        tries + 1,
        exc.code,
        message,
    )


async def _chat(adapter: ProviderAdapter, call: Call, body: JSON) -> JSON:
    return await adapter.chat(call, body)


async def _chat_relayed(adapter: ProviderAdapter, call: Call, body: JSON) -> JSON | bytes:
    return await adapter.chat_relayed(call, body)


async def _embeddings(adapter: ProviderAdapter, call: Call, body: JSON) -> JSON:
    return await adapter.embeddings(call, body)


async def _open_stream(adapter: ProviderAdapter, call: Call, body: JSON) -> OpenStream:
    return await _first(adapter.chat_stream(call, body), call)


async def _first(chunks: AsyncIterator[Any], call: Call, relayed: bool = False) -> OpenStream:
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        first = None
    except BaseException:
        await close_iterator(chunks)
        raise
    return OpenStream(first, chunks, call.credential, relayed)
