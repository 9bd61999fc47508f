"""The per-call series are plain numbers (usage.metrics.CallSeries), and a scrape of them
reads exactly as prometheus_client's own Counter and Histogram would: the same families,
types, help, labels, bucket bounds, counts, sums and ``_created`` series."""

from __future__ import annotations

import threading
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from keyhouse.usage.metrics import _SECONDS, Metrics
from keyhouse.usage.record import UsageRecord


def _record(i: int, **fields: Any) -> UsageRecord:
    base: dict[str, Any] = {
        "operation": "chat",
        "endpoint_id": "e1",
        "endpoint_name": "chat",
        "token_id": None,
        "token_name": None,
        "is_admin": True,
        "stream": False,
        "provider": "openai",
    }
    return UsageRecord(**{**base, **fields})


# Latencies on and around every bucket bound (a value equal to a bound is in its bucket),
# past the last one, and calls with no first byte, no tokens or no cost.
RECORDS = [
    _record(0, latency_ms=b * 1000 + d, ttfb_ms=b * 500 + d)
    for b in _SECONDS
    for d in (-0.5, 0.0, 0.5)
] + [
    _record(1, latency_ms=200_000.0, ttfb_ms=None, status=502, provider="anthropic"),
    _record(2, latency_ms=12.0, ttfb_ms=3.0, input_tokens=7, output_tokens=3, cost_usd=0.25),
    _record(3, latency_ms=8.0, cached_input_tokens=4, cache_write_tokens=2, cost_usd=0.5),
    _record(4, latency_ms=1.0, endpoint_name=None, provider=None, status=401),
]
ATTEMPTS = [("openai", "ok"), ("openai", "ok"), ("anthropic", "upstream_unavailable")]


def _reference() -> bytes:
    """The same calls counted the way this module counted them before: by
    prometheus_client's own metric classes."""
    registry = CollectorRegistry()
    by = ("endpoint", "provider")
    requests = Counter("keyhouse_requests", "Gateway calls.", (*by, "status"), registry=registry)
    duration = Histogram(
        "keyhouse_request_duration_seconds",
        "Gateway call duration, to the last byte.",
        by,
        buckets=_SECONDS,
        registry=registry,
    )
    ttfb = Histogram(
        "keyhouse_time_to_first_byte_seconds",
        "Time to the first byte of the answer.",
        by,
        buckets=_SECONDS,
        registry=registry,
    )
    tokens = Counter(
        "keyhouse_tokens", "Tokens the providers reported.", (*by, "direction"), registry=registry
    )
    cost = Counter(
        "keyhouse_cost_usd", "Cost of the calls in USD (priced calls).", by, registry=registry
    )
    attempts = Counter(
        "keyhouse_upstream_attempts",
        "Requests sent upstream.",
        ("provider", "outcome"),
        registry=registry,
    )
    for r in RECORDS:
        key = (r.endpoint_name or "", r.provider or "")
        requests.labels(*key, str(r.status)).inc()
        duration.labels(*key).observe(r.latency_ms / 1000)
        if r.ttfb_ms is not None:
            ttfb.labels(*key).observe(r.ttfb_ms / 1000)
        ttfb.labels(*key)  # the old code made every child of a series at once
        for direction, value in (
            ("input", r.input_tokens),
            ("output", r.output_tokens),
            ("cached_input", r.cached_input_tokens),
            ("cache_write", r.cache_write_tokens),
        ):
            tokens.labels(*key, direction).inc(value or 0)
        cost.labels(*key).inc(r.cost_usd or 0)
    for provider, outcome in ATTEMPTS:
        attempts.labels(provider, outcome).inc()
    return generate_latest(registry)


def _families(text: bytes, created: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for family in text_string_to_metric_families(text.decode()):
        if family.name.startswith(("keyhouse_usage_records", "keyhouse_config")):
            continue
        samples = sorted(
            (s.name, tuple(sorted(s.labels.items())), None if created else s.value)
            for s in family.samples
            if s.name.endswith("_created") == created
        )
        if samples or not created:
            out[family.name] = (family.type, family.documentation, samples)
    return out


def test_a_scrape_reads_as_prometheus_clients_own_metrics() -> None:
    metrics = Metrics(lambda: 1)
    for r in RECORDS:
        metrics.observe(r)
    for provider, outcome in ATTEMPTS:
        metrics.attempt(provider, outcome)
    ours, theirs = metrics.render(0), _reference()
    assert _families(ours, created=False) == _families(theirs, created=False)
    # The _created series: the same ones, and each a time of creation.
    assert _families(ours, created=True) == _families(theirs, created=True)
    assert _families(ours, created=False)["keyhouse_request_duration_seconds"][2]
    assert b"keyhouse_usage_records_dropped_total 0.0" in ours


def test_a_scrape_during_calls_that_add_series_sees_whole_counts() -> None:
    """A scrape runs on another thread than the calls; new series appearing during it
    neither break it nor lose counts."""
    metrics = Metrics(lambda: 1)
    stop = threading.Event()
    errors: list[BaseException] = []

    def scrape() -> None:
        while not stop.is_set():
            try:
                metrics.render(0)
            except BaseException as exc:  # the test reports it
                errors.append(exc)
                return

    scraper = threading.Thread(target=scrape)
    scraper.start()
    try:
        for i in range(3000):
            metrics.observe(_record(i, endpoint_name=f"e{i % 300}", latency_ms=float(i)))
    finally:
        stop.set()
        scraper.join()
    assert not errors
    found = {
        (s.name, s.labels.get("endpoint")): s.value
        for f in text_string_to_metric_families(metrics.render(0).decode())
        for s in f.samples
    }
    assert sum(v for (n, _), v in found.items() if n == "keyhouse_requests_total") == 3000
    assert found[("keyhouse_request_duration_seconds_count", "e7")] == 10
