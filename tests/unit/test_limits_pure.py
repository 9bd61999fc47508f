"""The pure parts of limits: estimates, budget periods, the stored JSON, headers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from keyhouse.limits.estimate import input_estimate, max_tokens
from keyhouse.limits.spec import Budget, Limits, period_window
from keyhouse.limits.store import RateState
from keyhouse.limits.verdict import rate_headers


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"max_tokens": 50}, 50),
        ({"max_completion_tokens": 70, "max_tokens": 50}, 70),
        ({"max_output_tokens": 9}, 9),
        ({"max_tokens": True}, None),
        ({"max_tokens": 0}, None),
        ({"max_tokens": "50"}, None),
        ({}, None),
    ],
)
def test_max_tokens(body: dict[str, object], expected: int | None) -> None:
    assert max_tokens(body) == expected


def test_input_estimate_counts_every_text_part() -> None:
    plain = {"messages": [{"role": "user", "content": "x" * 300}]}
    parts = {"messages": [{"role": "user", "content": [{"type": "text", "text": "x" * 300}]}]}
    assert input_estimate(plain) >= 100 and input_estimate(parts) >= 100
    assert input_estimate({"input": ["a" * 30, "b" * 30]}) == 60 // 3 + 16
    assert input_estimate({"system": "s" * 30, "messages": []}) == 30 // 3 + 16
    deep: dict[str, object] = {"text": "x" * 3000}
    for _ in range(20):
        deep = {"nested": deep}
    assert input_estimate({"messages": [deep]}) == 16  # bounded depth, no recursion blow-up


@pytest.mark.parametrize(
    ("period", "now", "start", "end"),
    [
        (
            "day",
            datetime(2026, 12, 31, 23, 59, tzinfo=UTC),
            datetime(2026, 12, 31, tzinfo=UTC),
            datetime(2027, 1, 1, tzinfo=UTC),
        ),
        (
            "week",
            datetime(2026, 12, 3, 8, tzinfo=UTC),
            datetime(2026, 11, 30, tzinfo=UTC),
            datetime(2026, 12, 7, tzinfo=UTC),
        ),
        (
            "month",
            datetime(2026, 12, 15, tzinfo=UTC),
            datetime(2026, 12, 1, tzinfo=UTC),
            datetime(2027, 1, 1, tzinfo=UTC),
        ),
        (
            "month",
            datetime(2027, 2, 28, 12, tzinfo=UTC),
            datetime(2027, 2, 1, tzinfo=UTC),
            datetime(2027, 3, 1, tzinfo=UTC),
        ),
    ],
)
def test_period_window(period: str, now: datetime, start: datetime, end: datetime) -> None:
    assert period_window(period, now) == (start, end)  # type: ignore[arg-type]


def test_limits_from_stored_json() -> None:
    assert Limits.from_json(None) is None and Limits.from_json({}) is None
    got = Limits.from_json(
        {"requests_per_minute": 5, "budget": {"usd": 2, "period": "day", "action": "alert"}}
    )
    assert got == Limits(requests_per_minute=5, budget=Budget(2.0, "day", "alert"))


def test_headers_report_the_tightest_limit_of_each_kind() -> None:
    headers = rate_headers(
        [
            RateState("requests", 100, 40, 36.0),
            RateState("requests", 10, 3, 42.2),
            RateState("tokens", 1000, 999, 0.06),
        ]
    )
    assert headers == {
        "x-ratelimit-limit-requests": "10",
        "x-ratelimit-remaining-requests": "3",
        "x-ratelimit-reset-requests": "43s",
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "999",
        "x-ratelimit-reset-tokens": "1s",
    }
    assert rate_headers([]) == {}
