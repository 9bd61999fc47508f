"""Admission: every limit that applies to a call, checked in one atomic store call.

The limits that apply: the caller's token's, the endpoint's, and those of the keys the
endpoint's primary targets use (a key's limits count the calls routed to it first; a
fallback to another key does not charge that key). One call to the store checks them all
and changes nothing unless all allow it; ``Admission.finish`` settles once at the end.
The admitted call and the settlement it owes are in ``settlement``; what a verdict tells
the caller (headers, the refusal's error) is in ``verdict``.

Budgets reserve the worst case at admission — the prompt's size as input and
``max_tokens`` (or ``budget_default_max_tokens``) as output, at the dearest price among the
endpoint's targets, or ``budget_default_reservation_usd`` when a price is unknown — and
settle to the real cost from the answer's usage. A call whose usage never arrived (the
caller went away mid-stream) keeps its reservation: never an underestimate.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from keyhouse.errors import LimitsUnavailable
from keyhouse.gateway.types import Endpoint, Principal
from keyhouse.limits.estimate import input_estimate, max_tokens
from keyhouse.limits.settlement import Admission, Budgeted, Usage, budget_alerts, settlements_owed
from keyhouse.limits.spec import Subject, period_window
from keyhouse.limits.store import (
    Check,
    LimitStore,
    LimitStoreError,
    MemoryStore,
    Rate,
    Settlement,
    Slots,
    Spend,
    rate_state,
)
from keyhouse.limits.verdict import limit_name, rate_headers, refusal

log = logging.getLogger("keyhouse.limits")

JSON = dict[str, Any]
NANO = 1_000_000_000
# (provider, model, input tokens, output tokens) -> USD, or None when the price is unknown.
CostFn = Callable[[str, str, int, int], float | None]
AlertFn = Callable[[JSON], None]


class Limiter:
    def __init__(
        self,
        store: LimitStore,
        *,
        prefix: str = "keyhouse:limits:",
        on_store_error: str = "reject",
        lease_seconds: float = 600.0,
        default_max_tokens: int = 4096,
        default_reservation_usd: float = 0.05,
        cost: CostFn | None = None,
        alert: AlertFn | None = None,
    ) -> None:
        self.store = store
        self.prefix = prefix
        self.allow_on_store_error = on_store_error == "allow"
        self.lease_seconds = lease_seconds
        self.default_max_tokens = default_max_tokens
        self.default_reservation_usd = default_reservation_usd
        self.cost = cost
        self.alert = alert
        # Calls admitted or settled while the store was unreachable (shown by /readyz).
        self.store_errors = 0
        # Refusals by (scope, limit): token|endpoint|key, requests|tokens|concurrency|budget.
        self.refused: collections.Counter[tuple[str, str]] = collections.Counter()
        self._settling: set[asyncio.Task[None]] = set()
        self._failing_since: float | None = None
        self._warned_at = -math.inf

    @staticmethod
    def subjects(principal: Principal, endpoint: Endpoint) -> tuple[Subject, ...]:
        if principal.limited is None:
            return endpoint.limited
        return (principal.limited, *endpoint.limited)

    async def admit(self, principal: Principal, endpoint: Endpoint, body: JSON) -> Admission | None:
        """None when no limit applies; else the admission to finish, or 429/503."""
        subjects = self.subjects(principal, endpoint)
        if not subjects:
            return None
        max_out = max_tokens(body)
        prompt = input_estimate(body)
        token_estimate = prompt + (max_out or 0)
        checks: list[Check] = []
        budgets: list[Budgeted] = []
        reserve: int | None = None
        now = datetime.now(UTC)
        for s in subjects:
            budget = s.limits.budget
            if budget is not None and reserve is None:
                reserve = self._reservation(endpoint, prompt, max_out)
            own = self._checks(s, now, token_estimate, reserve or 0)
            checks += own
            if budget is not None:
                spend = own[-1]
                assert isinstance(spend, Spend)
                budgets.append(
                    Budgeted(spend, s, spend.period_start or now, budget.action == "alert")
                )
        lease = uuid.uuid4().hex
        try:
            verdict = await self.store.admit(checks, lease)
        except LimitStoreError as exc:
            self._store_failed(
                exc,
                "allowing calls without limits"
                if self.allow_on_store_error
                else "refusing limited calls",
            )
            if self.allow_on_store_error:
                return None
            unavailable = LimitsUnavailable()
            unavailable.headers["retry-after"] = "1"
            raise unavailable from None
        if self._failing_since is not None:
            self._failing_since = None
            log.warning("limit store reachable again")
        headers = rate_headers(verdict.rates)
        if not verdict.admitted:
            refused = verdict.refused
            err, scope = refusal(refused, subjects, self.prefix)
            self.refused[(scope, limit_name(refused))] += 1
            err.headers.update(headers)
            err.headers["retry-after"] = str(max(1, math.ceil(verdict.retry_after)))
            raise err
        return Admission(
            self, endpoint, checks, budgets, lease, token_estimate, reserve or 0, headers
        )

    def _checks(self, s: Subject, now: datetime, token_estimate: int, reserve: int) -> list[Check]:
        """The checks of one subject's limits; a budget's is last."""
        base = f"{self.prefix}{s.scope}:{s.id}:"
        lim = s.limits
        checks: list[Check] = []
        if lim.requests_per_minute is not None:
            checks.append(Rate(base + "rpm", lim.requests_per_minute, 1, "requests"))
        if lim.tokens_per_minute is not None:
            checks.append(Rate(base + "tpm", lim.tokens_per_minute, token_estimate, "tokens"))
        if lim.max_concurrent is not None:
            checks.append(Slots(base + "slots", lim.max_concurrent, self.lease_seconds))
        if lim.budget is not None:
            start, end = period_window(lim.budget.period, now)
            checks.append(
                Spend(
                    f"{base}usd:{lim.budget.period}:{start.date().isoformat()}",
                    round(lim.budget.usd * NANO),
                    reserve,
                    max(1, math.ceil((end - now).total_seconds())),
                    enforce=lim.budget.action == "reject",
                    period_start=start,
                )
            )
        return checks

    async def use(self, subjects: Sequence[Subject]) -> list[JSON]:
        """Each subject's use against its limits now (one store call), for the admin
        lists; raises LimitStoreError when the store is unreachable."""
        now = datetime.now(UTC)
        per_subject = [self._checks(s, now, 0, 0) for s in subjects]
        values = await self.store.peek([c for checks in per_subject for c in checks])
        out: list[JSON] = []
        at = 0
        for s, checks in zip(subjects, per_subject, strict=True):
            view: JSON = {"scope": s.scope, "id": s.id, "name": s.name}
            for check in checks:
                value = values[at]
                at += 1
                if isinstance(check, Rate):
                    state = rate_state(check.kind, check.capacity, value)
                    view[check.kind] = {
                        "limit": state.limit,
                        "remaining": state.remaining,
                        "reset_seconds": round(state.reset_seconds, 1),
                    }
                elif isinstance(check, Slots):
                    view["concurrent"] = {"limit": check.limit, "in_use": int(value)}
                elif s.limits.budget is not None:
                    budget = s.limits.budget
                    assert isinstance(check, Spend)
                    view["budget"] = {
                        "usd": budget.usd,
                        "period": budget.period,
                        "action": budget.action,
                        "period_start": check.period_start.isoformat()
                        if check.period_start
                        else None,
                        "spent_usd": round(value / NANO, 6),
                    }
            out.append(view)
        return out

    def _reservation(self, endpoint: Endpoint, input_tokens: int, max_out: int | None) -> int:
        """Nano-USD: the dearest target's price of the worst case."""
        output_tokens = max_out if max_out is not None else self.default_max_tokens
        if endpoint.task == "embeddings":
            output_tokens = 0
        worst: float | None = None
        for target in endpoint.targets:
            usd = (
                self.cost(target.provider, target.model, input_tokens, output_tokens)
                if self.cost is not None and target.provider is not None
                else None
            )
            if usd is None:
                usd = self.default_reservation_usd
            worst = usd if worst is None else max(worst, usd)
        return round((worst if worst is not None else self.default_reservation_usd) * NANO)

    def actual_cost(self, endpoint: Endpoint, usage: Usage) -> int | None:
        """Nano-USD of what the call used, at the price of the target that answered (by
        model name), else the dearest target; None when no price is known."""
        if self.cost is None:
            return None
        targets = [t for t in endpoint.targets if t.provider is not None]
        served = [t for t in targets if usage.model is not None and t.model == usage.model]
        costs = [
            c
            for t in (served or targets)
            if (c := self.cost(t.provider or "", t.model, usage.input_tokens, usage.output_tokens))
            is not None
        ]
        return round(max(costs) * NANO) if costs else None

    def _store_failed(self, exc: LimitStoreError, outcome: str) -> None:
        self.store_errors += 1
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        # Once when it starts, then at most every 10 s: an outage must not flood the log.
        if now - self._warned_at >= 10.0:
            self._warned_at = now
            log.warning(
                "limit store unreachable (%s): %s; %d store errors so far",
                exc,
                outcome,
                self.store_errors,
            )

    def settle_soon(self, admission: Admission) -> None:
        """Settle without holding the connection: with Redis that is a round trip, and a
        keep-alive caller's next request would wait behind it."""
        task = asyncio.get_running_loop().create_task(self.settle(admission, admission.usage))
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def drain(self) -> None:
        """At shutdown: let the settlements in flight finish (slots, budgets)."""
        if self._settling:
            await asyncio.gather(*self._settling, return_exceptions=True)

    async def settle(self, admission: Admission, usage: Usage | None) -> None:
        settlements = self._settlements(admission, usage)
        if not settlements:
            return
        try:
            crossed = await self.store.settle(settlements, admission.lease)
        except LimitStoreError as exc:
            self._store_failed(
                exc,
                f"a settlement is lost; its slots return after their "
                f"lease ({self.lease_seconds:.0f} s)",
            )
            return
        self._alert(admission, crossed)

    def settle_now(self, admission: Admission) -> bool:
        """Settle without waiting when the store needs no I/O (in process): the slot is
        back before the caller's next request. False when it must be awaited."""
        if not isinstance(self.store, MemoryStore):
            return False
        settlements = self._settlements(admission, admission.usage)
        if settlements:
            self._alert(admission, self.store.settle_now(settlements, admission.lease))
        return True

    def _settlements(self, admission: Admission, usage: Usage | None) -> list[Settlement]:
        return settlements_owed(admission, usage, self.actual_cost)

    def _alert(self, admission: Admission, crossed: list[str]) -> None:
        if not crossed or self.alert is None:
            return
        for alert in budget_alerts(admission, crossed):
            self.alert(alert)
