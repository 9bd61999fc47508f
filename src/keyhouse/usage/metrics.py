"""``/metrics``: the Prometheus series of one app, in its own registry (no globals).

Labels are bounded by the configuration (endpoint and provider names, status codes,
error codes), never by callers' input; no label carries a token, key name or secret.
With ``--workers N`` each worker process counts its own calls.
"""

from __future__ import annotations

import bisect
import itertools
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from keyhouse.usage.record import UsageRecord

CONTENT_TYPE = CONTENT_TYPE_LATEST
_BY_TARGET = ("endpoint", "provider")
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
# The bucket labels as prometheus_client writes them (its Histogram's own formatter).
_LE = (*(floatToGoString(b) for b in _SECONDS), "+Inf")  # type: ignore[no-untyped-call]
_DIRECTIONS = ("input", "output", "cached_input", "cache_write")


class Metrics:
    def __init__(self, config_version: Callable[[], int]) -> None:
        self.registry = registry = CollectorRegistry()
        # What every call adds to is counted by CallSeries, as plain numbers; the rest
        # change rarely (a drop, a batch written, a scrape) and are prometheus_client's.
        self.calls = CallSeries()
        registry.register(self.calls)
        self.dropped = Counter(
            "keyhouse_usage_records_dropped",
            "Usage records dropped because the buffer was full.",
            registry=registry,
        )
        self.written = Counter(
            "keyhouse_usage_records_written",
            "Usage records written to the store.",
            registry=registry,
        )
        self.queued = Gauge(
            "keyhouse_usage_records_queued",
            "Usage records waiting for the writer.",
            registry=registry,
        )
        version = Gauge(
            "keyhouse_config_version",
            "The configuration version this process serves.",
            registry=registry,
        )
        version.set_function(lambda: float(config_version()))
        # The hook calls these per call: bound once, not through a delegating method.
        self.attempt = self.calls.attempt
        self.observe = self.calls.observe

    def render(self, queued: int) -> bytes:
        self.queued.set(queued)
        return generate_latest(self.registry)


class _Count:
    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.created = time.time()
        self.value = 0.0


class _Series:
    """What the calls of one (endpoint, provider) added up to."""

    __slots__ = ("cost", "created", "duration", "duration_sum", "tokens", "ttfb", "ttfb_sum")

    def __init__(self) -> None:
        self.created = time.time()
        self.duration = [0] * len(_LE)  # per bucket, not cumulative
        self.duration_sum = 0.0
        self.ttfb = [0] * len(_LE)
        self.ttfb_sum = 0.0
        self.tokens = [0, 0, 0, 0]  # in _DIRECTIONS order
        self.cost = 0.0


class CallSeries(Collector):
    """The per-call series (requests, durations, time to first byte, tokens, cost,
    upstream attempts), kept as plain numbers and turned into Prometheus families when
    scraped. prometheus_client's children take a lock and check observability on every
    ``inc`` and ``observe``: eight of those were a fifth of what recording a call cost
    the event loop (callgrind). Only the event loop's thread adds here; a scrape, on
    another thread, reads copies of the dicts, and its exposition is what
    prometheus_client's own Counter and Histogram would give (``_created`` included;
    tests/unit/test_usage_metrics_series.py compares the two)."""

    def __init__(self) -> None:
        self._requests: dict[tuple[str, str, int], _Count] = {}
        self._series: dict[tuple[str, str], _Series] = {}
        self._attempts: dict[tuple[str, str], _Count] = {}

    def attempt(self, provider: str, outcome: str) -> None:
        count = self._attempts.get((provider, outcome))
        if count is None:
            count = self._attempts[(provider, outcome)] = _Count()
        count.value += 1

    def observe(self, record: UsageRecord) -> None:
        endpoint = record.endpoint_name or ""
        provider = record.provider or ""
        count = self._requests.get((endpoint, provider, record.status))
        if count is None:
            count = self._requests[(endpoint, provider, record.status)] = _Count()
        count.value += 1
        series = self._series.get((endpoint, provider))
        if series is None:
            series = self._series[(endpoint, provider)] = _Series()
        seconds = record.latency_ms / 1000
        series.duration[bisect.bisect_left(_SECONDS, seconds)] += 1
        series.duration_sum += seconds
        if record.ttfb_ms is not None:
            seconds = record.ttfb_ms / 1000
            series.ttfb[bisect.bisect_left(_SECONDS, seconds)] += 1
            series.ttfb_sum += seconds
        tokens = series.tokens
        if record.input_tokens:
            tokens[0] += record.input_tokens
        if record.output_tokens:
            tokens[1] += record.output_tokens
        if record.cached_input_tokens:
            tokens[2] += record.cached_input_tokens
        if record.cache_write_tokens:
            tokens[3] += record.cache_write_tokens
        if record.cost_usd:
            series.cost += record.cost_usd

    def collect(self) -> Iterator[Metric]:
        # list() of a dict's items runs in C, whole, while the event loop may add keys.
        series = list(self._series.items())
        requests = CounterMetricFamily(
            "keyhouse_requests", "Gateway calls.", labels=(*_BY_TARGET, "status")
        )
        for (endpoint, provider, status), count in list(self._requests.items()):
            requests.add_metric((endpoint, provider, str(status)), count.value, count.created)
        yield requests
        yield _histogram(
            "keyhouse_request_duration_seconds",
            "Gateway call duration, to the last byte.",
            ((key, s.created, s.duration, s.duration_sum) for key, s in series),
        )
        yield _histogram(
            "keyhouse_time_to_first_byte_seconds",
            "Time to the first byte of the answer.",
            ((key, s.created, s.ttfb, s.ttfb_sum) for key, s in series),
        )
        tokens = CounterMetricFamily(
            "keyhouse_tokens", "Tokens the providers reported.", labels=(*_BY_TARGET, "direction")
        )
        cost = CounterMetricFamily(
            "keyhouse_cost_usd", "Cost of the calls in USD (priced calls).", labels=_BY_TARGET
        )
        for key, s in series:
            for direction, value in zip(_DIRECTIONS, list(s.tokens), strict=True):
                tokens.add_metric((*key, direction), value, s.created)
            cost.add_metric(key, s.cost, s.created)
        yield tokens
        yield cost
        attempts = CounterMetricFamily(
            "keyhouse_upstream_attempts", "Requests sent upstream.", labels=("provider", "outcome")
        )
        for key, count in list(self._attempts.items()):
            attempts.add_metric(key, count.value, count.created)
        yield attempts


def _histogram(
    name: str,
    doc: str,
    rows: Iterator[tuple[tuple[str, str], float, list[int], float]],
) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=_BY_TARGET)
    for key, created, counts, total in rows:
        cumulative = zip(_LE, map(float, itertools.accumulate(list(counts))), strict=True)
        family.add_metric(key, list(cumulative), total)
        family.samples.append(
            Sample(f"{name}_created", dict(zip(_BY_TARGET, key, strict=True)), created)
        )
    return family
