"""A store verdict as the caller sees it: the ``x-ratelimit-*`` headers of an admission,
and for a refusal the 429 (or budget error) that names whose limit it was.

Pure functions of the checks and the rate states the store returned. Separate from
``admission`` so that what the caller is told can change (wording, headers) without
touching how limits are checked or settled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from keyhouse.errors import BudgetExceeded, RateLimited
from keyhouse.limits.spec import Subject
from keyhouse.limits.store import Check, Rate, RateState, Slots, Spend


def rate_headers(states: Sequence[RateState]) -> dict[str, str]:
    """OpenAI's ``x-ratelimit-*``, from the tightest limit of each kind."""
    headers: dict[str, str] = {}
    for kind in ("requests", "tokens"):
        of_kind = [s for s in states if s.kind == kind]
        if not of_kind:
            continue
        tight = min(of_kind, key=lambda s: (s.remaining, -s.reset_seconds))
        headers[f"x-ratelimit-limit-{kind}"] = str(tight.limit)
        headers[f"x-ratelimit-remaining-{kind}"] = str(tight.remaining)
        headers[f"x-ratelimit-reset-{kind}"] = f"{math.ceil(tight.reset_seconds)}s"
    return headers


def refusal(
    check: Check | None, subjects: Sequence[Subject], prefix: str
) -> tuple[RateLimited, str]:
    """The error for a refused check, and the scope whose limit it was."""
    subject = None
    if check is not None:
        subject = next(
            (s for s in subjects if check.key.startswith(f"{prefix}{s.scope}:{s.id}:")), None
        )
    whose = f"{subject.scope} {subject.name!r}" if subject is not None else "a limit"
    scope = subject.scope if subject is not None else "unknown"
    if isinstance(check, Spend):
        return BudgetExceeded(f"The budget of {whose} for this period is spent."), scope
    if isinstance(check, Slots):
        return RateLimited(f"Too many concurrent calls for {whose} (at most {check.limit})."), scope
    if isinstance(check, Rate):
        return RateLimited(
            f"Rate limit of {whose} exceeded: {check.capacity} {check.kind} per minute."
        ), scope
    return RateLimited(), scope


def limit_name(check: Check | None) -> str:
    """The refused limit's name in ``Limiter.refused``: requests|tokens|concurrency|budget."""
    if isinstance(check, Rate):
        return check.kind
    if isinstance(check, Slots):
        return "concurrency"
    return "budget" if isinstance(check, Spend) else "unknown"
