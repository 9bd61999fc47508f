"""``keyhouse tokens create --expires 30d --rpm 60 --budget 50/month``, ``tokens rotate
--grace 1h``, and the limit options of ``endpoints`` and ``keys``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from keyhouse.cli.limits import duration_seconds, expires_at, limits_change, parse_budget
from tests.api.conftest import Run, make_runner
from tests.api.test_cli import UNREACHABLE, make_key


@pytest.fixture
def offline() -> Run:
    return make_runner(UNREACHABLE)


def _token(run: Run, name: str) -> dict[str, object]:
    listed = json.loads(run("tokens", "list", "--json").stdout)
    return next(t for t in listed if t["name"] == name)


def test_tokens_create_with_expiry_limits_and_budget(run: Run) -> None:
    created = run(
        "tokens",
        "create",
        "app",
        "--expires",
        "30d",
        "--rpm",
        "60",
        "--budget",
        "50/month",
        "--json",
    )
    assert created.exit_code == 0, created.output
    body = json.loads(created.stdout)
    expires = datetime.fromisoformat(body["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)
    assert body["limits"] == {
        "requests_per_minute": 60,
        "tokens_per_minute": None,
        "max_concurrent": None,
        "budget": {"usd": 50.0, "period": "month", "action": "reject"},
    }
    listing = run("tokens", "list").stdout
    assert "60 rpm, $50/month" in listing
    assert "60/60 req left, $0.00 of $50 this month" in listing
    # Update merges: a concurrency limit joins, the budget becomes an alert, rpm goes.
    updated = run(
        "tokens",
        "update",
        "app",
        "--max-concurrent",
        "4",
        "--rpm",
        "0",
        "--budget",
        "5/day/alert",
        "--expires",
        "never",
    )
    assert updated.exit_code == 0, updated.output
    view = _token(run, "app")
    assert view["expires_at"] is None
    assert view["limits"] == {
        "requests_per_minute": None,
        "tokens_per_minute": None,
        "max_concurrent": 4,
        "budget": {"usd": 5.0, "period": "day", "action": "alert"},
    }
    assert run("tokens", "update", "app", "--no-limits").exit_code == 0
    assert _token(run, "app")["limits"] is None
    shown = run("tokens", "get", "app").stdout
    assert "limits" in shown and "never" in shown


def test_tokens_rotate_with_grace(run: Run) -> None:
    old = run("tokens", "create", "app", "-q").stdout.strip()
    rotated = run("tokens", "rotate", "app", "--grace", "1h")
    assert rotated.exit_code == 0, rotated.output
    new = rotated.stdout.strip()
    assert new.startswith("kh_") and new != old and rotated.stdout == new + "\n"
    assert "old secret works until" in rotated.stderr
    view = _token(run, "app")
    until = datetime.fromisoformat(str(view["previous_valid_until"]))
    assert abs(until - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(minutes=1)
    quiet = run("tokens", "rotate", "app", "-q")
    assert quiet.stderr == "" and quiet.stdout.strip().startswith("kh_")
    assert _token(run, "app")["previous_valid_until"] is None


def test_endpoint_and_key_limit_options(run: Run) -> None:
    make_key(run, "main")
    created = run(
        "endpoints",
        "create",
        "chat",
        "-t",
        "main:gpt-4o",
        "--tpm",
        "10000",
        "--max-concurrent",
        "8",
    )
    assert created.exit_code == 0, created.output
    got = json.loads(run("endpoints", "get", "chat", "--json").stdout)
    assert got["limits"]["tokens_per_minute"] == 10000 and got["limits"]["max_concurrent"] == 8
    assert "10000 tpm, 8 at once" in run("endpoints", "get", "chat").stdout
    assert run("endpoints", "update", "chat", "--budget", "100/week").exit_code == 0
    got = json.loads(run("endpoints", "get", "chat", "--json").stdout)
    assert got["limits"]["budget"] == {"usd": 100.0, "period": "week", "action": "reject"}
    assert got["limits"]["tokens_per_minute"] == 10000
    assert run("keys", "update", "main", "--rpm", "500").exit_code == 0
    key = json.loads(run("keys", "get", "main", "--json").stdout)
    assert key["limits"]["requests_per_minute"] == 500
    assert "500 rpm" in run("keys", "get", "main").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("tokens", "create", "x", "--expires", "soon"), "--expires"),
        (("tokens", "create", "x", "--budget", "50"), "--budget"),
        (("tokens", "create", "x", "--budget", "50/year"), "--budget"),
        (("tokens", "create", "x", "--rpm", "-1"), "--rpm"),
        (("tokens", "create", "x", "--rpm", "5", "--no-limits"), "--no-limits"),
        (("tokens", "rotate", "x", "--grace", "forever"), "--grace"),
    ],
)
def test_bad_limit_options_fail_before_any_request(
    offline: Run, args: tuple[str, ...], message: str
) -> None:
    result = offline(*args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "cannot reach" not in result.stderr


def test_parsers() -> None:
    assert duration_seconds("90s", "x") == 90 and duration_seconds("2w", "x") == 14 * 86400
    assert parse_budget("12.5/day/alert") == {"usd": 12.5, "period": "day", "action": "alert"}
    assert expires_at("2030-01-01T00:00:00") == "2030-01-01T00:00:00+00:00"
    assert limits_change({"requests_per_minute": 5}, None, None, None, None, False) == (
        False,
        {"requests_per_minute": 5},
    )
    assert limits_change({"requests_per_minute": 5}, 0, None, None, None, False) == (True, None)
