"""The limiter's counters as Prometheus series, for the app's ``/metrics`` registry.

A collector reads the limiter's plain counters when scraped, so the hot path only bumps
integers: ``register(registry, limiter, alerts)`` adds

- ``keyhouse_limits_store_errors_total`` — calls admitted or settled while the limit
  store (Redis) was unreachable, whatever ``KEYHOUSE_LIMITS_ON_STORE_ERROR`` then did;
- ``keyhouse_limits_refused_total{scope,limit}`` — calls answered 429 by a Keyhouse limit;
- ``keyhouse_limits_shared`` — 1 when the counters live in Redis, 0 when per process;
- ``keyhouse_budget_alerts_total{outcome}`` — webhook alerts sent, failed, dropped.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from keyhouse.limits.admission import Limiter
from keyhouse.limits.alerts import AlertSender


class LimitsCollector(Collector):
    def __init__(self, limiter: Limiter, alerts: AlertSender | None = None) -> None:
        self.limiter = limiter
        self.alerts = alerts

    def collect(self) -> Iterator[Metric]:
        errors = CounterMetricFamily(
            "keyhouse_limits_store_errors",
            "Calls admitted or settled while the limit store was unreachable.",
        )
        errors.add_metric([], self.limiter.store_errors)
        yield errors
        refused = CounterMetricFamily(
            "keyhouse_limits_refused",
            "Calls refused by a Keyhouse limit.",
            labels=["scope", "limit"],
        )
        for (scope, limit), count in sorted(self.limiter.refused.items()):
            refused.add_metric([scope, limit], count)
        yield refused
        shared = GaugeMetricFamily(
            "keyhouse_limits_shared", "1: limit counters shared in Redis; 0: per process."
        )
        shared.add_metric([], 1.0 if self.limiter.store.shared else 0.0)
        yield shared
        if self.alerts is not None:
            alerts = CounterMetricFamily(
                "keyhouse_budget_alerts", "Budget alerts by outcome.", labels=["outcome"]
            )
            alerts.add_metric(["sent"], self.alerts.sent)
            alerts.add_metric(["failed"], self.alerts.failed)
            alerts.add_metric(["dropped"], self.alerts.dropped)
            yield alerts


def register(
    registry: CollectorRegistry, limiter: Limiter, alerts: AlertSender | None = None
) -> None:
    registry.register(LimitsCollector(limiter, alerts))
