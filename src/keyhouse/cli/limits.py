"""Limit options shared by ``tokens``, ``endpoints`` and ``keys``: ``--rpm``, ``--tpm``,
``--max-concurrent``, ``--budget 50/month[/alert]``, ``--no-limits``; and durations
(``30d``, ``1h``) for ``--expires`` and ``--grace``."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from keyhouse.cli.client import Obj, usage

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_BUDGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(day|week|month)\s*(?:/\s*(reject|alert))?\s*$")
_FIELDS = (
    ("rpm", "requests_per_minute"),
    ("tpm", "tokens_per_minute"),
    ("max_concurrent", "max_concurrent"),
)


def duration_seconds(text: str, option: str) -> int:
    """``90s``, ``15m``, ``1h``, ``30d``, ``2w`` → seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise usage(f"{option}: {text!r} is not a duration like 30d, 12h, 15m or 90s")
    return int(match.group(1)) * _UNITS[match.group(2)]


def expires_at(text: str) -> str:
    """``--expires``: a duration from now, or an ISO 8601 time."""
    if _DURATION.match(text):
        when = datetime.now(UTC) + timedelta(seconds=duration_seconds(text, "--expires"))
        return when.isoformat()
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise usage(
            f"--expires: {text!r} is neither a duration (30d) nor an ISO 8601 time"
        ) from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).isoformat()


def parse_budget(text: str) -> Obj:
    match = _BUDGET.match(text)
    if match is None:
        raise usage(f"--budget: {text!r} is not USD/PERIOD[/ACTION], e.g. 50/month or 5/day/alert")
    return {
        "usd": float(match.group(1)),
        "period": match.group(2),
        "action": match.group(3) or "reject",
    }


def limit_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option(
                "--rpm",
                type=click.IntRange(0),
                metavar="N",
                help="Requests per minute (0 removes the limit).",
            ),
            click.option(
                "--tpm",
                type=click.IntRange(0),
                metavar="N",
                help="Tokens per minute (0 removes the limit).",
            ),
            click.option(
                "--max-concurrent",
                type=click.IntRange(0),
                metavar="N",
                help="Calls at once (0 removes the limit).",
            ),
            click.option(
                "--budget",
                metavar="USD/PERIOD[/ACTION]",
                help="A USD budget per day, week or month; ACTION reject (default) "
                "or alert; 'none' removes it. E.g. 50/month.",
            ),
            click.option("--no-limits", is_flag=True, help="Remove every limit."),
        ]
    ):
        command = option(command)
    return command


def limits_change(
    current: Obj | None,
    rpm: int | None,
    tpm: int | None,
    max_concurrent: int | None,
    budget: str | None,
    no_limits: bool,
) -> tuple[bool, Obj | None]:
    """(whether the options change anything, the new ``limits`` object or None)."""
    given = {"rpm": rpm, "tpm": tpm, "max_concurrent": max_concurrent}
    if no_limits:
        if any(v is not None for v in given.values()) or budget is not None:
            raise usage("--no-limits cannot be combined with other limit options")
        return True, None
    if all(v is None for v in given.values()) and budget is None:
        return False, current
    limits = {k: v for k, v in (current or {}).items() if v is not None}
    for option, field in _FIELDS:
        value = given[option]
        if value is not None:
            if value == 0:
                limits.pop(field, None)
            else:
                limits[field] = value
    if budget is not None:
        if budget.strip().lower() == "none":
            limits.pop("budget", None)
        else:
            limits["budget"] = parse_budget(budget)
    return True, limits or None


def describe(limits: Obj | None) -> str:
    if not limits:
        return "-"
    parts = []
    if limits.get("requests_per_minute"):
        parts.append(f"{limits['requests_per_minute']} rpm")
    if limits.get("tokens_per_minute"):
        parts.append(f"{limits['tokens_per_minute']} tpm")
    if limits.get("max_concurrent"):
        parts.append(f"{limits['max_concurrent']} at once")
    budget = limits.get("budget")
    if budget:
        action = "" if budget.get("action", "reject") == "reject" else " (alert)"
        parts.append(f"${budget['usd']:g}/{budget['period']}{action}")
    return ", ".join(parts) or "-"


def describe_use(use: Obj | None) -> str:
    """One subject of ``/limits/use`` in a few words: what is left of each limit."""
    if not use:
        return "-"
    parts = []
    for kind, unit in (("requests", "req"), ("tokens", "tok")):
        rate = use.get(kind)
        if rate:
            parts.append(f"{rate['remaining']}/{rate['limit']} {unit} left")
    concurrent = use.get("concurrent")
    if concurrent:
        parts.append(f"{concurrent['in_use']}/{concurrent['limit']} busy")
    budget = use.get("budget")
    if budget:
        parts.append(f"${budget['spent_usd']:.2f} of ${budget['usd']:g} this {budget['period']}")
    return ", ".join(parts) or "-"
