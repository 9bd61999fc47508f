"""``keyhouse usage``: who called what, how much, at what cost — as a table."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import click

from keyhouse.cli.client import Api, Obj, print_json, table, usage, with_api

_SINCE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """``30m``, ``24h``, ``7d``, ``2w`` → that long before now; or an ISO date/time."""
    now = now or datetime.now(UTC)
    match = _SINCE.match(value.strip())
    if match:
        return now - timedelta(**{_UNITS[match[2]]: int(match[1])})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise usage(f"--since {value!r}: use a duration like 24h, 7d, 2w or an ISO date.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _cost(value: float) -> str:
    return f"${value:.4f}" if value < 100 else f"${value:,.2f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _label(row: Obj, by: str) -> str:
    if by == "day":
        return str(row["group"])[:10]
    if by == "hour":
        return str(row["group"])[:16].replace("T", " ")
    return str(row["group"])


@click.command("usage")
@click.option(
    "--by",
    "by",
    type=click.Choice(["endpoint", "key", "token", "model", "provider", "day", "hour"]),
    default="endpoint",
    show_default=True,
    help="Group the calls by this.",
)
@click.option(
    "--since",
    default="7d",
    show_default=True,
    help="How far back: 30m, 24h, 7d, 2w, or an ISO date.",
)
@click.option("--endpoint", help="Only this endpoint (name or id).")
@click.option("--key", help="Only this API key (name or id).")
@click.option("--token", help="Only this access token (name or id; 'admin').")
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@with_api
def usage_command(
    api: Api,
    by: str,
    since: str,
    endpoint: str | None,
    key: str | None,
    token: str | None,
    as_json: bool,
) -> None:
    """Gateway calls grouped by endpoint, key, token, model, provider, day or hour."""
    start = parse_since(since)
    params = {"group_by": by, "from": start.isoformat()}
    for name, value in (("endpoint", endpoint), ("key", key), ("token", token)):
        if value:
            params[name] = value
    report: Obj = api.get("/usage", params=params)
    if as_json:
        print_json(report)
        return
    rows = [r for r in report["rows"] if r["requests"]] if by in ("day", "hour") else report["rows"]
    totals = report["totals"]
    body = [
        [
            _label(r, by),
            str(r["requests"]),
            str(r["errors"]),
            str(r["input_tokens"]),
            str(r["cached_input_tokens"]),
            str(r["cache_write_tokens"]),
            str(r["output_tokens"]),
            _cost(r["cost_usd"]),
            _ms(r["latency_ms_p50"]),
            _ms(r["latency_ms_p95"]),
        ]
        for r in rows
    ]
    body.append(
        [
            "TOTAL",
            str(totals["requests"]),
            str(totals["errors"]),
            str(totals["input_tokens"]),
            str(totals["cached_input_tokens"]),
            str(totals["cache_write_tokens"]),
            str(totals["output_tokens"]),
            _cost(totals["cost_usd"]),
            _ms(totals["latency_ms_p50"]),
            _ms(totals["latency_ms_p95"]),
        ]
    )
    click.echo(
        table(
            # INPUT holds every prompt token; CACHE-READ and CACHE-WRITE are parts of it.
            [
                by.upper(),
                "REQUESTS",
                "ERRORS",
                "INPUT",
                "CACHE-READ",
                "CACHE-WRITE",
                "OUTPUT",
                "COST",
                "P50 MS",
                "P95 MS",
            ],
            body,
        )
    )
