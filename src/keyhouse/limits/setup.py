"""Build the limiter from the settings, and describe it for /readyz and the start-up log."""

from __future__ import annotations

from typing import Any

from keyhouse.limits.admission import CostFn, Limiter
from keyhouse.limits.alerts import AlertSender
from keyhouse.limits.store import LimitStore, LimitStoreError, MemoryStore
from keyhouse.settings import Settings

PER_PROCESS = (
    "limits are per process: each replica counts on its own; set "
    "KEYHOUSE_REDIS_URL to share them across replicas"
)


def build_limiter(
    settings: Settings, cost: CostFn | None = None, alerts: AlertSender | None = None
) -> Limiter:
    store: LimitStore
    if settings.redis_url is not None:
        from keyhouse.limits.redis_store import RedisStore

        store = RedisStore(settings.redis_url.get_secret_value())
    else:
        store = MemoryStore()
    return Limiter(
        store,
        prefix=settings.redis_prefix,
        on_store_error=settings.limits_on_store_error,
        lease_seconds=settings.limits_lease_seconds,
        default_max_tokens=settings.budget_default_max_tokens,
        default_reservation_usd=settings.budget_default_reservation_usd,
        cost=cost,
        alert=alerts.send if alerts is not None else None,
    )


def alert_sender(settings: Settings) -> AlertSender | None:
    return AlertSender(settings.alert_webhook_url) if settings.alert_webhook_url else None


async def describe(limiter: Limiter) -> dict[str, Any]:
    """What /readyz says about limits: where counters live and whether it is reachable."""
    view: dict[str, Any] = {
        "store": limiter.store.name,
        "scope": "shared" if limiter.store.shared else "per-process",
        "on_store_error": "allow" if limiter.allow_on_store_error else "reject",
        "store_errors": limiter.store_errors,
    }
    if not limiter.store.shared:
        view["note"] = PER_PROCESS
    try:
        await limiter.store.ping()
        view["reachable"] = True
    except LimitStoreError:
        view["reachable"] = False
    return view
