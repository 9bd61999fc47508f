"""An admitted call and the one settlement it owes when it ends.

``Admission`` carries what admission decided (the checks, the budgets' reservations, the
lease, the headers) and notes the usage the answer reports; ``settlements_owed`` turns
that into what the store must undo or charge: unused tokens refunded, slots released, budgets
charged the real cost. Separate from ``admission`` (which checks limits and talks to the
store) because this is the bookkeeping that outlives the check: pure, apart from
``Admission.finish`` handing itself back to the limiter.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from keyhouse.gateway.types import Endpoint
from keyhouse.limits.spec import Subject
from keyhouse.limits.store import Charge, Check, Rate, Refund, Release, Settlement, Slots, Spend

if TYPE_CHECKING:
    from keyhouse.limits.admission import Limiter

JSON = dict[str, Any]
# (endpoint, usage) -> nano-USD of what the call used, or None when no price is known.
ActualCostFn = Callable[[Endpoint, "Usage"], int | None]


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int
    output_tokens: int
    model: str | None = None


@dataclass(frozen=True, slots=True)
class Budgeted:
    check: Spend
    subject: Subject
    period_start: datetime
    alert: bool


class Admission:
    """An admitted call: its headers, and the one settlement owed when it ends."""

    __slots__ = (
        "_done",
        "budgets",
        "checks",
        "endpoint",
        "headers",
        "lease",
        "limiter",
        "reserve",
        "started",
        "token_estimate",
        "usage",
    )

    def __init__(
        self,
        limiter: Limiter,
        endpoint: Endpoint,
        checks: list[Check],
        budgets: list[Budgeted],
        lease: str,
        token_estimate: int,
        reserve: int,
        headers: dict[str, str],
    ) -> None:
        self.limiter = limiter
        self.endpoint = endpoint
        self.checks = checks
        self.budgets = budgets
        self.lease = lease
        self.token_estimate = token_estimate
        self.reserve = reserve
        self.headers = headers
        self.usage: Usage | None = None
        self.started = time.monotonic()
        self._done = False

    def observe(self, answer: JSON) -> None:
        """Note the usage in an OpenAI-shaped answer or stream chunk, if it has one."""
        usage = answer.get("usage")
        if not isinstance(usage, dict):
            return
        prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
        completion = usage.get("completion_tokens", usage.get("output_tokens", 0))
        if isinstance(prompt, int) and isinstance(completion, int):
            model = answer.get("model")
            self.usage = Usage(prompt, completion, model if isinstance(model, str) else None)

    def nothing_used(self) -> None:
        """The call failed before any answer: the provider charged nothing."""
        if self.usage is None:
            self.usage = Usage(0, 0)

    def complete(
        self, usage: JSON | None, model: str | None = None, *, answered: bool = True
    ) -> None:
        """Settle from a synchronous end-of-call hook (a dispatcher's ``on_complete``):
        ``usage`` as the provider reported it; ``answered=False`` for a call that failed
        before any answer (nothing was used). A call cut short keeps its reservation."""
        if usage is not None:
            self.observe({"usage": usage, "model": model})
        elif not answered:
            self.nothing_used()
        self.finish()

    def finish(self) -> None:
        """Settle once: at once in process, else on a task (a Redis round trip must not
        hold the connection a keep-alive caller sends its next request on)."""
        if self._done:
            return
        self._done = True
        if not self.limiter.settle_now(self):
            self.limiter.settle_soon(self)


def settlements_owed(
    admission: Admission, usage: Usage | None, actual_cost: ActualCostFn
) -> list[Settlement]:
    """What the store must undo or charge for an admission that ended with ``usage``."""
    out: list[Settlement] = []
    for check in admission.checks:
        if isinstance(check, Rate):
            if check.kind == "tokens" and usage is not None:
                actual = usage.input_tokens + usage.output_tokens
                out.append(Refund(check.key, check.capacity, admission.token_estimate - actual))
        elif isinstance(check, Slots):
            out.append(Release(check.key))
    if admission.budgets:
        # No usage (cut short): keep the reservation. A price we do not know: the
        # reservation, which already was the configured default.
        cost = actual_cost(admission.endpoint, usage) if usage is not None else None
        spent = admission.reserve if cost is None else cost
        for b in admission.budgets:
            out.append(
                Charge(
                    b.check.key,
                    spent - b.check.reserve,
                    b.check.limit if b.alert else None,
                    b.check.ttl_seconds,
                )
            )
    return out


def budget_alerts(admission: Admission, crossed: list[str]) -> list[JSON]:
    """The ``budget_exceeded`` alert of each budget whose settlement crossed its limit."""
    alerts: list[JSON] = []
    for b in admission.budgets:
        if b.check.key in crossed and b.subject.limits.budget is not None:
            budget = b.subject.limits.budget
            alerts.append(
                {
                    "type": "budget_exceeded",
                    "scope": b.subject.scope,
                    "id": b.subject.id,
                    "name": b.subject.name,
                    "budget_usd": budget.usd,
                    "period": budget.period,
                    "period_start": b.period_start.isoformat(),
                    "at": datetime.now(UTC).isoformat(),
                }
            )
    return alerts
