"""Prompt-cache writes are counted apart, end to end: Claude Code's ``cache_control``
through ``/v1/messages`` (whole and streamed) makes the Anthropic fake write its cache,
and the usage record, ``/api/v1/usage`` (rows and totals), ``/api/v1/usage/requests``,
the ``keyhouse usage`` table and ``keyhouse_tokens_total{direction="cache_write"}`` all
show those writes — inside input_tokens, apart in cache_write_tokens, priced at the
write rate."""

from __future__ import annotations

import time
from typing import Any

import anthropic
import httpx
import pytest

from keyhouse.services import Services
from keyhouse.testing.fakes.anthropic import create_app as anthropic_fake
from keyhouse.testing.fakes.server import serve
from keyhouse.usage.prices import cost_usd
from tests.api.conftest import CheckedClient, Run
from tests.api.test_usage_metrics import samples, value
from tests.conftest import ADMIN_TOKEN

SECRET = "sk-ant-cache-writes-" + "c" * 24
MODEL = "claude-sonnet-4-5"


def _body(text: str) -> dict[str, Any]:
    return {
        "model": "claude",
        "max_tokens": 256,
        "system": [
            {"type": "text", "text": "A long shared brief.", "cache_control": {"type": "ephemeral"}}
        ],
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}],
            }
        ],
    }


def _records(admin: httpx.Client, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        records: list[dict[str, Any]] = admin.get("/api/v1/usage/requests").json()["records"]
        if len(records) >= count or time.monotonic() > deadline:
            return records
        time.sleep(0.1)


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_cache_writes_are_recorded_reported_priced_and_metered(
    client: CheckedClient, server_url: str, services: Services, run: Run
) -> None:
    with serve(anthropic_fake(api_key=SECRET)) as upstream:
        key = client.post(
            "/api/v1/keys",
            json={
                "name": "claude-key",
                "provider": "anthropic",
                "credentials": {"api_key": SECRET},
                "config": {"base_url": upstream.url},
            },
        )
        assert key.status_code == 201, key.text
        made = client.post(
            "/api/v1/endpoints",
            json={"name": "claude", "targets": [{"key_id": key.json()["id"], "model": MODEL}]},
        )
        assert made.status_code == 201, made.text
        sdk = anthropic.Anthropic(base_url=server_url, api_key=ADMIN_TOKEN, max_retries=0)
        whole = sdk.messages.create(**_body("first question here")).usage
        with sdk.messages.stream(**_body("second one")) as stream:
            streamed = stream.get_final_message().usage
        again = sdk.messages.create(**_body("first question here")).usage

    # The fake wrote the brief and the first question, then the second question (the
    # brief it read); the third call read what the first wrote.
    assert (whole.cache_creation_input_tokens, streamed.cache_creation_input_tokens) == (7, 2)
    assert again.cache_creation_input_tokens == 0 and again.cache_read_input_tokens == 7
    with httpx.Client(
        base_url=server_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=20
    ) as admin:
        records = _records(admin, 3)
        report = admin.get("/api/v1/usage", params={"group_by": "endpoint"}).json()
        metrics = samples(admin.get("/metrics").text)
    assert len(records) == 3
    by_stream = sorted(records, key=lambda r: (r["stream"], r["at"]))
    for record, usage in zip(by_stream, (whole, again, streamed), strict=True):
        read = usage.cache_read_input_tokens or 0
        written = usage.cache_creation_input_tokens or 0
        assert record["input_tokens"] == usage.input_tokens + read + written
        assert record["cached_input_tokens"] == read
        assert record["cache_write_tokens"] == written
        assert record["cost_usd"] == pytest.approx(
            cost_usd(
                "anthropic",
                MODEL,
                record["input_tokens"],
                record["output_tokens"],
                read,
                cache_write_tokens=written,
            )
        )
    priced_as_input = cost_usd("anthropic", MODEL, by_stream[0]["input_tokens"], 0)
    assert priced_as_input is not None
    writes_cost = cost_usd(
        "anthropic", MODEL, by_stream[0]["input_tokens"], 0, cache_write_tokens=7
    )
    assert writes_cost is not None and writes_cost > priced_as_input  # writes cost more

    (row,) = report["rows"]
    assert row["cache_write_tokens"] == report["totals"]["cache_write_tokens"] == 9
    reads = sum(u.cache_read_input_tokens or 0 for u in (whole, streamed, again))
    assert row["cached_input_tokens"] == report["totals"]["cached_input_tokens"] == reads
    assert (
        value(
            metrics,
            "keyhouse_tokens_total",
            endpoint="claude",
            provider="anthropic",
            direction="cache_write",
        )
        == 9
    )
    table = run("usage", "--by", "endpoint")
    assert table.exit_code == 0, table.output
    header, line = (row.split() for row in table.output.splitlines()[:2])
    assert line[header.index("CACHE-WRITE")] == "9"
    assert line[header.index("CACHE-READ")] == str(reads)
