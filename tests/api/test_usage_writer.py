"""The usage writer: a full buffer drops and counts (never waits), a store that goes away
loses nothing that fits the buffer, a retried batch writes nothing twice, shutdown drains,
retention removes what is past it."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
from sqlalchemy import func, select

from keyhouse.errors import Unavailable
from keyhouse.store import db
from keyhouse.store.models import UsageDailyRow, UsageHourlyRow, UsageRecordRow
from keyhouse.store.store import Store
from keyhouse.testing.tcp_proxy import tcp_proxy
from keyhouse.usage import sink
from keyhouse.usage.record import UsageRecord
from keyhouse.usage.writer import UsageWriter

pytestmark = pytest.mark.anyio


def record(i: int = 0, at: datetime | None = None) -> UsageRecord:
    when: dict[str, Any] = {"at": at} if at else {}
    return UsageRecord(
        operation="chat",
        endpoint_id="e1",
        endpoint_name="chat",
        token_id="t1",
        token_name="app",
        is_admin=False,
        stream=False,
        key_id="k1",
        key_name="key",
        provider="openai",
        model="gpt-4o",
        latency_ms=10.0 + i % 500,
        input_tokens=10,
        output_tokens=5,
        cost_usd=0.001,
        attempts=1,
        **when,
    )


def totals(store: Store) -> tuple[int, int, int]:
    """(records, distinct ids, requests counted hourly) — and the daily counters agree."""
    with store.read() as session:
        rows = session.scalar(select(func.count()).select_from(UsageRecordRow))
        distinct = session.scalar(select(func.count(func.distinct(UsageRecordRow.id))))
        counted = session.scalar(select(func.sum(UsageHourlyRow.requests)))
        daily = session.scalar(select(func.sum(UsageDailyRow.requests)))
    if daily is not None:
        assert daily == counted
    return int(rows or 0), int(distinct or 0), int(counted or 0)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store(database_url)
    db.upgrade(s.engine)
    yield s
    s.dispose()


async def until(check: Callable[[], bool], within: float = 15.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await anyio.sleep(0.05)


async def test_a_full_buffer_drops_and_counts_without_waiting() -> None:
    dropped: list[int] = []
    writer = UsageWriter(lambda batch: len(batch), capacity=10, on_drop=dropped.append)
    started = time.perf_counter()
    accepted = [writer.submit(record(i)) for i in range(15)]
    assert time.perf_counter() - started < 0.05  # an append, not a wait
    assert accepted == [True] * 10 + [False] * 5
    assert writer.dropped == 5 and sum(dropped) == 5 and writer.pending == 10


async def test_failed_batches_stay_queued_and_go_out_once_in_order() -> None:
    written: list[str] = []
    failures = [3]

    def flaky(batch: Sequence[UsageRecord]) -> int:
        if failures[0]:
            failures[0] -= 1
            raise Unavailable("down")
        written.extend(r.id for r in batch)
        return len(batch)

    writer = UsageWriter(flaky, capacity=5000, batch_size=1000, interval=0.01, max_backoff=0.2)
    submitted = [record(i) for i in range(2500)]
    for r in submitted:
        assert writer.submit(r)
    writer.start()
    await until(lambda: writer.written == 2500)
    await writer.close()
    assert written == [r.id for r in submitted]


async def test_steady_traffic_is_written_one_batch_per_interval() -> None:
    """Records arriving all the time are written one transaction per interval, not one
    per flush's length: the writer used to flush again the moment the last flush ended,
    which under steady traffic meant a commit per handful of records."""
    sizes: list[int] = []

    def slow_sink(batch: Sequence[UsageRecord]) -> int:
        time.sleep(0.01)  # a commit's fsync
        sizes.append(len(batch))
        return len(batch)

    writer = UsageWriter(slow_sink, batch_size=1000, interval=0.2)
    writer.start()
    started = time.monotonic()
    submitted = 0
    while time.monotonic() - started < 1.0:  # ~1 record a millisecond, for a second
        writer.submit(record(submitted))
        submitted += 1
        await anyio.sleep(0.001)
    await writer.close()
    assert sum(sizes) == submitted
    # About five intervals; back-to-back flushes of 10 ms each would have made ~90.
    assert len(sizes) <= 8, sizes


async def test_a_full_batch_is_written_without_waiting_for_the_interval() -> None:
    sizes: list[int] = []

    def sink_(batch: Sequence[UsageRecord]) -> int:
        sizes.append(len(batch))
        return len(batch)

    writer = UsageWriter(sink_, batch_size=100, interval=30)
    writer.start()
    for i in range(250):
        writer.submit(record(i))
    await until(lambda: sum(sizes) >= 200, within=5)
    assert sizes[:2] == [100, 100]
    await writer.close()
    assert sum(sizes) == 250


async def test_a_batch_retried_after_an_unknown_commit_is_not_written_twice(store: Store) -> None:
    calls = [0]

    def commit_then_lose_the_answer(batch: Sequence[UsageRecord]) -> int:
        calls[0] += 1
        n = sink.write_batch(store, batch)
        if calls[0] == 1:
            raise Unavailable("connection lost during COMMIT")
        return n

    writer = UsageWriter(
        commit_then_lose_the_answer, batch_size=100, interval=0.01, max_backoff=0.1
    )
    for i in range(250):
        writer.submit(record(i))
    writer.start()
    await until(lambda: writer.written == 250)
    await writer.close()
    assert calls[0] >= 4  # the first batch went twice
    assert totals(store) == (250, 250, 250)


async def test_close_writes_out_everything_queued(store: Store) -> None:
    writer = UsageWriter(lambda b: sink.write_batch(store, b), interval=3600)
    writer.start()
    for i in range(1234):
        writer.submit(record(i))
    await writer.close()
    assert writer.pending == 0
    assert totals(store) == (1234, 1234, 1234)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_the_database_down_for_a_while_loses_nothing_that_fits_the_buffer(
    database_url: str, store: Store
) -> None:
    # The writer talks to PostgreSQL through a proxy that the test cuts: the shared
    # server itself is never touched. KEYHOUSE_TEST_OUTAGE_SECONDS=60 for the full minute.
    outage = float(os.environ.get("KEYHOUSE_TEST_OUTAGE_SECONDS", "6"))
    match = re.search(r"@([\d.]+):(\d+)/", database_url)
    assert match is not None
    with tcp_proxy(match[1], int(match[2])) as proxy:
        via_proxy = Store(database_url.replace(match[0], f"@127.0.0.1:{proxy.port}/"))
        writer = UsageWriter(
            lambda b: sink.write_batch(via_proxy, b),
            capacity=10_000,
            batch_size=200,
            interval=0.05,
            max_backoff=1.0,
        )
        writer.start()
        for i in range(300):
            writer.submit(record(i))
        await until(lambda: writer.written == 300)
        proxy.down()
        # Calls keep coming while the store is away: a record every 10 ms.
        deadline = time.monotonic() + outage
        sent = 300
        while time.monotonic() < deadline:
            assert writer.submit(record(sent))
            sent += 1
            await anyio.sleep(0.01)
        assert writer.failing_since is not None  # it did notice
        assert writer.written < sent
        proxy.up()
        await until(lambda: writer.written == sent, within=30)
        await writer.close()
        via_proxy.dispose()
    assert writer.dropped == 0
    assert totals(store) == (sent, sent, sent)


def test_retention_removes_records_and_counters_past_it(store: Store) -> None:
    now = datetime.now(UTC)
    old = [record(i, now - timedelta(days=31, hours=i)) for i in range(5)]
    new = [record(i, now - timedelta(days=29, hours=i)) for i in range(3)]
    sink.write_batch(store, old + new)
    assert totals(store) == (8, 8, 8)
    assert sink.purge(store, 30, now=now, chunk=2) == 5
    assert totals(store) == (3, 3, 3)
    with store.read() as session:
        assert session.scalar(select(func.sum(UsageDailyRow.requests))) == 3
