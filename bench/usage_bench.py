"""Usage at scale: ``python -m bench.usage_bench [--records 1000000] [--stores sqlite,postgres]``
(``--writer-only`` for the writer's rate alone).

For each store: the writer's sustained rate (records queued → committed, through the
production ``UsageWriter`` and sink), then 1,000,000 records over 30 days written through
the same sink (records and hourly counters), then the two queries a user waits on,
timed as the median of several runs: a 30-day report grouped by token (and by day, and
by endpoint) and a filtered page of requests (first page and a deep one).

The seeded traffic: 12 endpoints (each on one key and model, 6 keys), 25 access tokens
plus the admin token, 2% errors, log-normal latency. Targets: reports and pages
<= 300 ms on PostgreSQL and <= 1 s on SQLite; the writer >= 5,000 records/s (printed on
its own line; below it the run exits non-zero).
PostgreSQL runs in a schema of its own in the local ``test`` database, dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from keyhouse.store import db
from keyhouse.store.store import Store
from keyhouse.usage import queries, reports, sink
from keyhouse.usage.filters import Filters
from keyhouse.usage.record import UsageRecord
from keyhouse.usage.writer import UsageWriter

POSTGRES = os.environ.get(
    "KEYHOUSE_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TARGET_MS = {"sqlite": 1000.0, "postgresql": 300.0}
WRITER_TARGET = 5000.0


class Traffic:
    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        models = [
            "gpt-4o",
            "gpt-4o-mini",
            "claude-sonnet-4-5",
            "gemini-2.5-flash",
            "text-embedding-3-small",
            "mistral-large-latest",
        ]
        providers = ["openai", "openai", "anthropic", "gemini", "openai", "mistral"]
        self.endpoints = [
            (uuid.uuid4().hex[:36], f"endpoint-{i}", f"key{i % 6}", models[i % 6], providers[i % 6])
            for i in range(12)
        ]
        self.tokens: list[tuple[str | None, str | None]] = [
            (uuid.uuid4().hex, f"app-{i}") for i in range(25)
        ] + [(None, None)]

    def record(self, at: datetime) -> UsageRecord:
        rng = self.rng
        endpoint_id, endpoint, key, model, provider = rng.choice(self.endpoints)
        token_id, token = rng.choice(self.tokens)
        status = 502 if rng.random() < 0.02 else 200
        latency = rng.lognormvariate(6.0, 0.8)
        inp, out = rng.randint(20, 4000), rng.randint(0, 800)
        return UsageRecord(
            operation="chat",
            endpoint_id=endpoint_id,
            endpoint_name=endpoint,
            token_id=token_id,
            token_name=token,
            is_admin=token_id is None,
            stream=rng.random() < 0.5,
            status=status,
            error_code="upstream_error" if status >= 400 else None,
            key_id=key,
            key_name=f"name-{key}",
            credential_version=1,
            provider=provider,
            model=model,
            latency_ms=latency,
            ttfb_ms=latency / 3,
            input_tokens=inp,
            output_tokens=out,
            cached_input_tokens=0,
            cost_usd=(inp * 2.5 + out * 10) / 1e6,
            attempts=1,
            at=at,
        )


@contextmanager
def store_for(kind: str) -> Iterator[Store]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
            db.upgrade(store.engine)
            yield store
            store.dispose()
        return
    schema = "bench_usage_" + uuid.uuid4().hex[:8]
    admin = sa.create_engine(POSTGRES)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        store = Store(f"{POSTGRES}?options=-csearch_path%3D{schema}")
        db.upgrade(store.engine)
        yield store
        store.dispose()
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def writer_rate(store: Store, traffic: Traffic, n: int) -> tuple[float, float]:
    """Records per second from submit() to committed, through UsageWriter and the sink,
    and this process's CPU microseconds per record over the same span (the figure a
    loaded machine disturbs least: it is what the writer takes from the gateway)."""
    now = datetime.now(UTC)
    records = [traffic.record(now - timedelta(seconds=i * 0.01)) for i in range(n)]

    async def run() -> tuple[float, float]:
        # The production writer as the app builds it (batch size, interval), unbounded.
        writer = UsageWriter(lambda batch: sink.write_batch(store, batch), capacity=n)
        writer.start()
        started, cpu = time.perf_counter(), time.process_time()
        for r in records:
            writer.submit(r)
        await writer.close(grace=600)  # returns once every record is committed
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        if writer.written != n or sink.count(store) != n:
            raise SystemExit(f"writer: {sink.count(store):,} of {n:,} records stored")
        return n / elapsed, cpu / n * 1e6

    return asyncio.run(run())


def bench_writer(kind: str, n: int) -> dict[str, Any]:
    with store_for(kind) as store:
        rate, cpu_us = writer_rate(store, Traffic(), n)
    met = rate >= WRITER_TARGET
    print(
        f"{kind}: writer {rate:,.0f} records/s, {cpu_us:.1f} µs CPU a record "
        f"({n:,} records; target >= {WRITER_TARGET:,.0f}/s: {'met' if met else 'MISSED'})",
        file=sys.stderr,
        flush=True,
    )
    return {
        "writer_records_per_s": round(rate),
        "writer_cpu_us_per_record": round(cpu_us, 1),
        "writer_met": met,
    }


def seed(store: Store, traffic: Traffic, n: int, days: int, now: datetime) -> float:
    span = days * 86400.0
    batch = 5000
    started = time.perf_counter()
    for start in range(0, n, batch):
        chunk = [
            traffic.record(now - timedelta(seconds=traffic.rng.uniform(0, span)))
            for _ in range(min(batch, n - start))
        ]
        sink.write_batch(store, chunk)
        if start and start % 100_000 == 0:
            print(f"  seeded {start:,}", file=sys.stderr, flush=True)
    with store.engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))
    return n / (time.perf_counter() - started)


def timed(fn: Callable[[], Any], runs: int = 5) -> tuple[float, Any]:
    fn()  # warm the caches, as a dashboard that is open is
    samples, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples), result


def bench_store(kind: str, n: int, writer_n: int) -> dict[str, Any]:
    traffic = Traffic()
    out: dict[str, Any] = {"store": kind, "records": n, **bench_writer(kind, writer_n)}
    with store_for(kind) as store:
        now = datetime.now(UTC)
        out["seed_records_per_s"] = round(seed(store, traffic, n, 30, now))
        start, end = now - timedelta(days=30), now + timedelta(minutes=1)
        with store.engine.connect() as conn:
            out["hourly_rows"] = conn.execute(sa.text("SELECT count(*) FROM usage_hourly")).scalar()
        token_id = traffic.tokens[3][0]
        for group_by in ("token", "day", "endpoint"):

            def report(group_by: str = group_by) -> Any:
                with store.read() as session:
                    return reports.report(session, start, end, group_by)

            ms, result = timed(report)
            out[f"report_30d_by_{group_by}_ms"] = round(ms, 1)
            out[f"report_30d_by_{group_by}_requests"] = result["totals"]["requests"]

        def page(before: str | None = None, status: str | None = None) -> Any:
            with store.read() as session:
                return queries.requests_page(session, 50, before, Filters(token=token_id), status)

        ms, (_, cursor) = timed(page)
        out["page_token_first_ms"] = round(ms, 1)
        for _ in range(20):  # 20 pages in: the cursor walks the index, it does not skip
            _, cursor = page(cursor)
        ms, _ = timed(lambda: page(cursor))
        out["page_token_21st_ms"] = round(ms, 1)
        ms, _ = timed(lambda: page(None, "error"))
        out["page_token_errors_ms"] = round(ms, 1)
        ms, _ = timed(lambda: page_all(store))
        out["page_unfiltered_first_ms"] = round(ms, 1)
    target = TARGET_MS["postgresql" if kind == "postgres" else "sqlite"]
    slowest = max(v for k, v in out.items() if k.endswith("_ms"))
    out["target_ms"] = target
    out["met"] = slowest <= target and out["writer_met"]
    return out


def page_all(store: Store) -> Any:
    with store.read() as session:
        return queries.requests_page(session, 50)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.usage_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--writer-records", type=int, default=50_000)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument(
        "--writer-only", action="store_true", help="only the writer's rate (no seeding)"
    )
    args = parser.parse_args(argv)
    results = []
    for kind in args.stores.split(","):
        if args.writer_only:
            result = {"store": kind, **bench_writer(kind, args.writer_records)}
            result["met"] = result["writer_met"]
        else:
            print(f"{kind}: seeding {args.records:,} records", file=sys.stderr, flush=True)
            result = bench_store(kind, args.records, args.writer_records)
        print(json.dumps(result, indent=2), flush=True)
        results.append(result)
    out_dir = Path(__file__).parent / "results"
    out_dir.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    (out_dir / f"usage-{stamp}.json").write_text(json.dumps(results, indent=2))
    if not all(r["met"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
