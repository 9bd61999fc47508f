"""The sink's fast paths (sqlite3 executemany of pre-built tuples, PostgreSQL binary COPY)
store every column exactly as the ORM would: same value, same stored type. Enumerates
every column of usage_records, with every field set and with every optional field None.

Usage record ids are UUIDv7: valid UUIDs, unique, and in time order (what keeps a batch's
primary-key inserts on the last index pages)."""

from __future__ import annotations

import dataclasses
import os
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Boolean, Float, Integer, String

from keyhouse.store import db
from keyhouse.store.models import UsageRecordRow
from keyhouse.store.store import Store
from keyhouse.usage import sink
from keyhouse.usage.record import UsageRecord, new_id

COLUMNS = [c.name for c in UsageRecordRow.__table__.columns]


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store(database_url)
    db.upgrade(s.engine)
    yield s
    s.dispose()


def full_record() -> UsageRecord:
    """Every column given a value of its type that is not the default."""
    values: dict[str, Any] = {}
    for i, column in enumerate(UsageRecordRow.__table__.columns):
        kind = type(column.type)
        if column.name in ("id", "at", "operation"):
            continue
        if kind is Boolean:
            values[column.name] = True
        elif kind is Float:
            values[column.name] = 1.25 + i
        elif issubclass(kind, Integer):
            values[column.name] = 7 + i
        elif issubclass(kind, String):
            values[column.name] = f"v{i}"
        else:  # a new column type: this test must learn what a value of it is
            raise AssertionError(f"no sample value for {column.name} ({kind.__name__})")
    # Microseconds set: a format that drops or pads them would show.
    at = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    return UsageRecord(operation="chat", at=at, **values)


def sparse_record() -> UsageRecord:
    """Every optional field None (and the booleans False)."""
    nullable: dict[str, Any] = {
        f.name: None
        for f in dataclasses.fields(UsageRecord)
        if f.name not in ("id", "at", "operation") and UsageRecordRow.__table__.c[f.name].nullable
    }
    return UsageRecord(operation="embeddings", is_admin=False, stream=False, **nullable)


def stored(store: Store, record_id: str) -> dict[str, tuple[str, Any]]:
    """The row as the database holds it: the driver's raw value and its Python type."""
    with store.engine.connect() as conn:
        row = (
            conn.exec_driver_sql(
                f"SELECT {', '.join(COLUMNS)} FROM usage_records WHERE id = "
                + ("%(id)s" if conn.dialect.name == "postgresql" else ":id"),
                {"id": record_id},
            )
            .mappings()
            .one()
        )
    return {c: (type(row[c]).__name__, row[c]) for c in COLUMNS if c != "id"}


@pytest.mark.parametrize("make", [full_record, sparse_record])
def test_the_fast_path_stores_every_column_as_the_orm_does(store: Store, make: Any) -> None:
    fast = make()
    orm = dataclasses.replace(fast, id=new_id())
    assert set(COLUMNS) == {f.name for f in dataclasses.fields(UsageRecord)}
    assert sink.write_batch(store, [fast]) == 1
    with store.write(bump=False) as session:
        session.add(UsageRecordRow(**orm.row()))
    assert stored(store, fast.id) == stored(store, orm.id)
    if make is full_record:  # the full record really set every column
        assert all(v is not None for _, v in stored(store, fast.id).values())


def test_the_fast_path_reads_back_what_was_written(store: Store) -> None:
    record = full_record()
    sink.write_batch(store, [record])
    with store.read() as session:
        row = session.get(UsageRecordRow, record.id)
        assert row is not None
        assert {c: getattr(row, c) for c in COLUMNS} == record.row()


def test_record_ids_are_uuid7_unique_and_in_time_order() -> None:
    first = [new_id() for _ in range(20_000)]
    time.sleep(0.002)
    later = new_id()
    assert len(set(first)) == len(first)
    for value in (first[0], later):
        parsed = uuid.UUID(value)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122 and parsed.hex == value
    # The first 48 bits are the millisecond: never before the id made earlier.
    stamps = [int(i[:12], 16) for i in first]
    assert stamps == sorted(stamps)
    assert max(first) < later
    now_ms = time.time_ns() // 1_000_000
    assert now_ms - 5000 <= int(later[:12], 16) <= now_ms


def _random_part(value: str) -> int:
    return int(value, 16) & ((1 << 80) - 1)


def test_record_ids_stay_unique_when_the_shared_generator_is_seeded_or_the_process_forks() -> None:
    """Replicas must not make the same ids (a record whose id is taken is not written):
    code seeding ``random`` with a constant does not reach the ids' generator, and a
    forked worker gets a generator of its own."""
    random.seed(0)
    first = [_random_part(new_id()) for _ in range(100)]
    random.seed(0)
    again = [_random_part(new_id()) for _ in range(100)]
    assert not set(first) & set(again)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its ids, then out without running pytest's teardown
        try:
            os.write(write, " ".join(new_id() for _ in range(100)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = [_random_part(i) for i in pipe.read().split()]
    os.waitpid(pid, 0)
    parent = [_random_part(new_id()) for _ in range(100)]
    assert len(child) == 100 and not set(child) & set(parent)
