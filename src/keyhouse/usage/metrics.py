"""``/metrics``: the Prometheus series of one app, in its own registry (no globals).

Labels are bounded by the configuration (endpoint and provider names, status codes,
error codes), never by callers' input; no label carries a token, key name or secret.
With ``--workers N`` each worker process counts its own calls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from keyhouse.usage.record import UsageRecord

CONTENT_TYPE = CONTENT_TYPE_LATEST
_BY_TARGET = ("endpoint", "provider")
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    def __init__(self, config_version: Callable[[], int]) -> None:
        self.registry = registry = CollectorRegistry()

        def counter(name: str, doc: str, *labels: str) -> Counter:
            return Counter(name, doc, labels, registry=registry)

        def seconds(name: str, doc: str) -> Histogram:
            return Histogram(name, doc, _BY_TARGET, buckets=_SECONDS, registry=registry)

        def gauge(name: str, doc: str) -> Gauge:
            return Gauge(name, doc, registry=registry)

        self.requests = counter("keyhouse_requests", "Gateway calls.", *_BY_TARGET, "status")
        self.duration = seconds(
            "keyhouse_request_duration_seconds", "Gateway call duration, to the last byte."
        )
        self.ttfb = seconds(
            "keyhouse_time_to_first_byte_seconds", "Time to the first byte of the answer."
        )
        self.tokens = counter(
            "keyhouse_tokens", "Tokens the providers reported.", *_BY_TARGET, "direction"
        )
        self.cost = counter(
            "keyhouse_cost_usd", "Cost of the calls in USD (priced calls).", *_BY_TARGET
        )
        self.attempts = counter(
            "keyhouse_upstream_attempts", "Requests sent upstream.", "provider", "outcome"
        )
        self.dropped = counter(
            "keyhouse_usage_records_dropped", "Usage records dropped because the buffer was full."
        )
        self.written = counter(
            "keyhouse_usage_records_written", "Usage records written to the store."
        )
        self.queued = gauge(
            "keyhouse_usage_records_queued", "Usage records waiting for the writer."
        )
        version = gauge("keyhouse_config_version", "The configuration version this process serves.")
        version.set_function(lambda: float(config_version()))

        # Labelled children, kept: ``labels()`` takes a lock and hashes every call, and
        # it was most of what recording cost a call. Bounded by the configuration.
        self._series: dict[tuple[str, str], _Series] = {}
        self._requests: dict[tuple[str, str, int], Any] = {}
        self._attempts: dict[tuple[str, str], Any] = {}

    def attempt(self, provider: str, outcome: str) -> None:
        child = self._attempts.get((provider, outcome))
        if child is None:
            child = self._attempts[(provider, outcome)] = self.attempts.labels(provider, outcome)
        child.inc()

    def observe(self, record: UsageRecord) -> None:
        endpoint = record.endpoint_name or ""
        provider = record.provider or ""
        requests = self._requests.get((endpoint, provider, record.status))
        if requests is None:
            requests = self._requests[(endpoint, provider, record.status)] = self.requests.labels(
                endpoint, provider, str(record.status)
            )
        requests.inc()
        series = self._series.get((endpoint, provider))
        if series is None:
            series = self._series[(endpoint, provider)] = _Series(self, endpoint, provider)
        series.duration.observe(record.latency_ms / 1000)
        if record.ttfb_ms is not None:
            series.ttfb.observe(record.ttfb_ms / 1000)
        if record.input_tokens:
            series.input.inc(record.input_tokens)
        if record.output_tokens:
            series.output.inc(record.output_tokens)
        if record.cached_input_tokens:
            series.cached.inc(record.cached_input_tokens)
        if record.cache_write_tokens:
            series.cache_write.inc(record.cache_write_tokens)
        if record.cost_usd:
            series.cost.inc(record.cost_usd)

    def render(self, queued: int) -> bytes:
        self.queued.set(queued)
        return generate_latest(self.registry)


class _Series:
    """The children of one (endpoint, provider)."""

    __slots__ = ("cache_write", "cached", "cost", "duration", "input", "output", "ttfb")

    def __init__(self, metrics: Metrics, endpoint: str, provider: str) -> None:
        self.duration = metrics.duration.labels(endpoint, provider)
        self.ttfb = metrics.ttfb.labels(endpoint, provider)
        self.input = metrics.tokens.labels(endpoint, provider, "input")
        self.output = metrics.tokens.labels(endpoint, provider, "output")
        self.cached = metrics.tokens.labels(endpoint, provider, "cached_input")
        self.cache_write = metrics.tokens.labels(endpoint, provider, "cache_write")
        self.cost = metrics.cost.labels(endpoint, provider)
