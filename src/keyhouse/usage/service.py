"""What one app holds for usage: the writer, the metrics, the prices, the tracer.

Built by ``create_app``, started and stopped by its lifespan. The gateway calls
``on_call`` with each finished ``CallContext`` (its ``on_complete`` hook): the record is
made from it, counted, traced and queued — nothing waits for the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from datetime import UTC, datetime
from typing import Any

import anyio

from keyhouse.gateway.context import CallContext
from keyhouse.gateway.types import Registry, Target
from keyhouse.settings import Settings
from keyhouse.store.store import Store
from keyhouse.usage import sink
from keyhouse.usage.metrics import Metrics
from keyhouse.usage.prices import PriceBook
from keyhouse.usage.record import Operation, UsageRecord, tokens_from_usage
from keyhouse.usage.writer import UsageWriter

log = logging.getLogger("keyhouse.usage")

RETENTION_EVERY_SECONDS = 3600.0
# The routes whose calls are recorded (a /v1/models listing is not a call of a model).
OPERATIONS: dict[str, Operation] = {
    "/v1/chat/completions": "chat",
    "/v1/embeddings": "embeddings",
    "/v1/messages": "messages",
    "/v1/responses": "responses",
}


class UsageService:
    def __init__(
        self, settings: Settings, store: Store, registry: Registry, span_exporter: Any = None
    ) -> None:
        self.store = store
        self.registry = registry
        self.retention_days = settings.usage_retention_days
        self.recording = settings.usage_recording
        self.metrics = Metrics(lambda: int(getattr(registry, "version", 0)))
        self.prices = PriceBook()
        self.writer = UsageWriter(
            functools.partial(sink.write_batch, store),
            capacity=settings.usage_buffer_size,
            interval=settings.usage_flush_seconds,
            on_drop=self.metrics.dropped.inc,
            on_written=self.metrics.written.inc,
        )
        self.tracing = None
        if span_exporter is not None or settings.otel_exporter_otlp_endpoint:
            from keyhouse.usage.tracing import Tracing

            self.tracing = Tracing(span_exporter)
        self._retention: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    # --- lifespan -------------------------------------------------------------------

    async def start(self) -> None:
        self._stop = asyncio.Event()
        self.writer.start()
        self._retention = asyncio.create_task(self._retain_forever(), name="usage-retention")

    async def close(self) -> None:
        if self._retention is not None:
            # Not cancel(): a purge running in a worker thread would go on after the app
            # (and its engine) are gone. The loop ends at its next check instead.
            self._stop.set()
            await self._retention
        await self.writer.close()
        if self.tracing is not None:
            self.tracing.shutdown()

    async def _retain_forever(self) -> None:
        # The price table is imported here too, ahead of the first call that needs it.
        await anyio.to_thread.run_sync(self.prices.warm)
        while not self._stop.is_set():
            try:
                removed = await anyio.to_thread.run_sync(
                    sink.purge, self.store, self.retention_days
                )
                if removed:
                    log.info("usage: %d records past %d days removed", removed, self.retention_days)
            except Exception as exc:  # the store may be down; try again next round
                log.warning("usage: retention skipped (%s)", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), RETENTION_EVERY_SECONDS)

    # --- per call -------------------------------------------------------------------

    def on_call(self, ctx: CallContext) -> None:
        """The gateway's on_complete hook: one record per call that named an endpoint."""
        if not self.recording or ctx.endpoint is None or ctx.principal is None:
            return
        operation = OPERATIONS.get(ctx.route)
        if operation is None:
            return
        record, auth_method, target = self._record(ctx, operation)
        for code in ctx.failures:
            self.metrics.attempt(record.provider or "", code)
        if ctx.attempts > len(ctx.failures) and record.status < 400:
            self.metrics.attempt(record.provider or "", "ok")
        if target is not None and record.input_tokens is not None:
            record.cost_usd = self.prices.cost_usd(
                record.provider or "",
                record.model or "",
                record.input_tokens or 0,
                record.output_tokens or 0,
                record.cached_input_tokens or 0,
                target.price,
                cache_write_tokens=record.cache_write_tokens or 0,
                auth_method=auth_method,
                at=record.at,
            )
        self.metrics.observe(record)
        if self.tracing is not None:
            end_ns = time.time_ns()
            self.tracing.span(record, auth_method, end_ns - int(record.latency_ms * 1e6), end_ns)
        self.writer.submit(record)

    def _record(
        self, ctx: CallContext, operation: Operation
    ) -> tuple[UsageRecord, str | None, Target | None]:
        principal = ctx.principal
        assert principal is not None and ctx.endpoint is not None
        endpoint = self.registry.endpoint(ctx.endpoint)
        # The target that served (or failed last): its key's name, auth method, price.
        target = None
        if endpoint is not None and ctx.key_id is not None:
            target = next(
                (t for t in endpoint.targets if t.key_id == ctx.key_id and t.model == ctx.model),
                None,
            )
        latency_ms = (ctx.latency or 0.0) * 1000
        record = UsageRecord(
            operation=operation,
            endpoint_id=endpoint.id if endpoint else None,
            endpoint_name=ctx.endpoint,
            token_id=None if principal.is_admin else principal.token_id,
            token_name=None if principal.is_admin else principal.name,
            is_admin=principal.is_admin,
            stream=ctx.stream,
            status=ctx.status,
            error_code=ctx.error_code,
            key_id=ctx.key_id,
            key_name=target.key_name if target else None,
            credential_version=target.credential_version if target else None,
            provider=ctx.provider,
            model=ctx.model,
            latency_ms=latency_ms,
            ttfb_ms=None if ctx.ttfb is None else ctx.ttfb * 1000,
            attempts=ctx.attempts,
            fallback_used=ctx.fallback_used,
            # Not now() - timedelta(): the same instant, at a third of the cost.
            at=datetime.fromtimestamp(time.time() - latency_ms / 1000, UTC),
        )
        tokens = tokens_from_usage(ctx.tokens())
        if tokens is not None:
            record.input_tokens = tokens.input
            record.output_tokens = tokens.output
            record.cached_input_tokens = tokens.cached_input
            record.cache_write_tokens = tokens.cache_write
        return record, target.auth_method if target else None, target
