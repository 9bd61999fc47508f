"""``keyhouse usage``: the usage report as a table, against a real server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from keyhouse.cli.usage import parse_since
from keyhouse.services import Services
from keyhouse.usage import sink
from keyhouse.usage.record import UsageRecord
from tests.api.conftest import Run

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
NOW = datetime.now(UTC)


def seed(services: Services) -> list[UsageRecord]:
    records = []
    for i in range(30):
        token = [("t1", "app-one"), ("t2", "app-two"), (None, None)][i % 3]
        records.append(
            UsageRecord(
                operation="chat",
                endpoint_id="e1",
                endpoint_name=["chat", "embed"][i % 2],
                token_id=token[0],
                token_name=token[1],
                is_admin=token[0] is None,
                stream=False,
                status=502 if i % 10 == 0 else 200,
                key_id="k1",
                key_name="key-a",
                provider="openai",
                model="gpt-4o",
                latency_ms=100 + i,
                input_tokens=10 + i,
                cached_input_tokens=i % 4,
                cache_write_tokens=i % 3,
                output_tokens=5,
                cost_usd=0.001,
                attempts=1,
                at=NOW - timedelta(days=i % 10, minutes=5),
            )
        )
    sink.write_batch(services.store, records)
    return records


@SQLITE
def test_usage_by_token_prints_a_table_with_totals(run: Run, services: Services) -> None:
    records = seed(services)
    result = run("usage", "--by", "token", "--since", "7d")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "TOKEN",
        "REQUESTS",
        "ERRORS",
        "INPUT",
        "CACHE-READ",
        "CACHE-WRITE",
        "OUTPUT",
        "COST",
        "P50",
        "MS",
        "P95",
        "MS",
    ]
    recent = [r for r in records if r.at >= NOW - timedelta(days=7)]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    for name in ("app-one", "app-two", "admin"):
        mine = [r for r in recent if (r.token_name or "admin") == name]
        assert rows[name][1] == str(len(mine))
        assert rows[name][3] == str(sum(r.input_tokens or 0 for r in mine))
        assert rows[name][4] == str(sum(r.cached_input_tokens or 0 for r in mine))
        assert rows[name][5] == str(sum(r.cache_write_tokens or 0 for r in mine))
    assert rows["TOTAL"][1] == str(len(recent))
    assert rows["TOTAL"][2] == str(sum(1 for r in recent if r.status >= 400))


@SQLITE
def test_usage_by_day_json_and_filters(run: Run, services: Services) -> None:
    records = seed(services)
    result = run("usage", "--by", "day", "--since", "30d")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].split()[1] == str(len(records))
    assert len(result.stdout.splitlines()) == 1 + 10 + 1  # header, 10 days, total
    as_json = json.loads(
        run("usage", "--by", "endpoint", "--token", "t1", "--json", "--since", "30d").stdout
    )
    assert as_json["totals"]["requests"] == sum(1 for r in records if r.token_id == "t1")


@SQLITE
def test_a_bad_since_is_a_usage_error(run: Run) -> None:
    result = run("usage", "--since", "last tuesday")
    assert result.exit_code == 2
    assert "--since" in result.stderr


def test_parse_since() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert parse_since("90m", now) == now - timedelta(minutes=90)
    assert parse_since("24h", now) == now - timedelta(hours=24)
    assert parse_since("2w", now) == now - timedelta(weeks=2)
    assert parse_since("2026-11-01", now) == datetime(2026, 11, 1, tzinfo=UTC)
