"""What one app holds for usage: the writer, the metrics, the prices, the tracer.

Built by ``create_app``, started and stopped by its lifespan; the gateway asks it for a
``CallRecorder`` per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from typing import Any

import anyio
from starlette.requests import Request

from keyhouse.gateway.types import Endpoint, Principal
from keyhouse.settings import Settings
from keyhouse.store.store import Store
from keyhouse.usage import sink
from keyhouse.usage.metrics import Metrics
from keyhouse.usage.prices import PriceBook, PriceOverride
from keyhouse.usage.record import Operation, UsageRecord
from keyhouse.usage.recorder import CallRecorder, Finisher
from keyhouse.usage.writer import UsageWriter

log = logging.getLogger("keyhouse.usage")

RETENTION_EVERY_SECONDS = 3600.0


def call_of(request: Request, principal: Principal, endpoint: Endpoint,
            operation: Operation, stream: bool) -> CallRecorder:
    """The recorder of one gateway call (the route's one line into usage). An app with
    no usage service (the database-less gateway of some tests) records nothing."""
    usage: UsageService | None = getattr(request.app.state, "usage", None)
    finisher: Finisher = usage if usage is not None and usage.recording else _NOT_RECORDED
    return CallRecorder(finisher, principal, endpoint, operation, stream)


class _NotRecorded:
    def attempted(self, provider: str, outcome: str) -> None:
        pass

    def price(self, record: UsageRecord, override: PriceOverride | None,
              auth_method: str | None) -> float | None:
        return None

    def finished(self, record: UsageRecord, auth_method: str | None, start_ns: int) -> None:
        pass


_NOT_RECORDED = _NotRecorded()


class UsageService:
    def __init__(self, settings: Settings, store: Store, config_version: Callable[[], int],
                 span_exporter: Any = None) -> None:
        self.store = store
        self.retention_days = settings.usage_retention_days
        self.recording = settings.usage_recording
        self.metrics = Metrics(config_version)
        self.prices = PriceBook()
        self.writer = UsageWriter(
            functools.partial(sink.write_batch, store), capacity=settings.usage_buffer_size,
            interval=settings.usage_flush_seconds,
            on_drop=self.metrics.dropped.inc, on_written=self.metrics.written.inc)
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
                    sink.purge, self.store, self.retention_days)
                if removed:
                    log.info("usage: %d records past %d days removed", removed,
                             self.retention_days)
            except Exception as exc:  # the store may be down; try again next round
                log.warning("usage: retention skipped (%s)", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), RETENTION_EVERY_SECONDS)

    # --- per call -------------------------------------------------------------------

    def call(self, principal: Principal, endpoint: Endpoint, operation: Operation,
             stream: bool) -> CallRecorder:
        return CallRecorder(self, principal, endpoint, operation, stream)

    def attempted(self, provider: str, outcome: str) -> None:
        self.metrics.attempt(provider, outcome)

    def price(self, record: UsageRecord, override: PriceOverride | None,
              auth_method: str | None) -> float | None:
        if record.provider is None or record.model is None:
            return None
        return self.prices.cost_usd(record.provider, record.model, record.input_tokens or 0,
                                    record.output_tokens or 0,
                                    record.cached_input_tokens or 0, override,
                                    auth_method=auth_method, at=record.at)

    def finished(self, record: UsageRecord, auth_method: str | None, start_ns: int) -> None:
        self.metrics.observe(record)
        if self.tracing is not None:
            self.tracing.span(record, auth_method, start_ns,
                              start_ns + int(record.latency_ms * 1_000_000))
        self.writer.submit(record)
