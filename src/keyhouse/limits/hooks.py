"""Limits on the gateway's dispatcher: one admission hook, one completion hook.

``install(gateway, limiter)`` adds them. Admission runs once the endpoint is known and
before routing: it checks every limit that applies (raising 429 or 503) and puts the
``x-ratelimit-*`` headers on the call, so every answer carries them — the error answers
too. Completion runs on every exit path (an answer, an upstream error, a caller that went
away mid-stream) and settles: slots back, token estimate and budget reservation
corrected to what the provider reported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keyhouse.limits.admission import Limiter
from keyhouse.limits.settlement import Admission

if TYPE_CHECKING:
    from keyhouse.gateway.context import CallContext
    from keyhouse.gateway.dispatch import Gateway
    from keyhouse.gateway.types import Endpoint

JSON = dict[str, Any]


def install(gateway: Gateway, limiter: Limiter) -> None:
    async def admit(ctx: CallContext, endpoint: Endpoint, body: JSON) -> None:
        if ctx.principal is None:
            return
        admission = await limiter.admit(ctx.principal, endpoint, body)
        if admission is None:
            return
        ctx.limits = admission
        if admission.headers:
            ctx.headers = [
                *(ctx.headers or []),
                *((k.encode("latin-1"), v.encode("latin-1")) for k, v in admission.headers.items()),
            ]

    def settle(ctx: CallContext) -> None:
        admission = ctx.limits
        if not isinstance(admission, Admission):
            return
        usage = ctx.tokens()
        # An error answer without usage, other than a caller who left, used nothing; a
        # stream that ended early without usage keeps its reservation (it may have).
        answered = usage is not None or ctx.status < 400 or ctx.status == 499 or ctx.stream
        admission.complete(usage, ctx.model, answered=answered)

    gateway.admission.append(admit)
    gateway.on_complete.append(settle)
