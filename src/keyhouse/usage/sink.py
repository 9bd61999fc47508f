"""Where usage records land: one transaction per batch, the records and their hourly
counters together, so the counters never disagree with the records they count.

A batch may be retried after a failure whose outcome is unknown (the connection died
during COMMIT). Records carry ids made by the replica, inserted ``ON CONFLICT DO
NOTHING ... RETURNING id``, and only the rows that really went in are counted: a retry
writes nothing twice.
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CursorResult,
    Float,
    Integer,
    String,
    any_,
    bindparam,
    case,
    delete,
    func,
    select,
)

from keyhouse.store.models import UsageDailyRow, UsageHourlyRow, UsageRecordRow
from keyhouse.store.store import Store
from keyhouse.usage.record import LATENCY_BUCKETS, UsageRecord, latency_bucket

LATENCY_COLUMNS = tuple(f"lat_{i:02d}" for i in range(LATENCY_BUCKETS))
# The counter columns a batch adds to (and a report sums).
SUMMED = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "cost_usd",
    *LATENCY_COLUMNS,
)
RollupKey = tuple[int, str, str, str, str, str]


def hour_of(at: datetime) -> int:
    """Hours since the epoch: the hourly counters' time axis."""
    return int(at.timestamp()) // 3600


def hour_start(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, UTC)


def write_batch(store: Store, records: Sequence[UsageRecord]) -> int:
    """Insert the records not yet stored and count them; returns how many went in."""
    if not records:
        return 0
    by_id = {r.id: r for r in records}
    with store.write(bump=False) as session:
        conn = session.connection()
        postgres = conn.dialect.name == "postgresql"
        # A PK probe per id: cheap beside the insert, and it is what makes a retried
        # batch (after a COMMIT whose outcome was lost) count nothing twice.
        stored = _stored_ids(conn, list(by_id))
        fresh = [r for i, r in by_id.items() if i not in stored]
        if not fresh:
            return 0
        if postgres:
            _copy_records(conn, fresh)
        else:
            _sqlite_records(conn, fresh)
        hourly = rollup(fresh)
        # Sorted: two replicas upserting the same rows lock them in the same order.
        for table, rows in ((UsageHourlyRow, hourly), (UsageDailyRow, by_day(hourly))):
            conn.execute(_upsert(conn.dialect.name, table), [rows[k] for k in sorted(rows)])
        return len(fresh)


_RECORD_TABLE = UsageRecordRow.__table__
_RECORD_COLUMNS = tuple(c.name for c in _RECORD_TABLE.columns)
# One C-level call per record gives its row tuple, in the table's column order (a
# column added to the table and the record is picked up by itself).
_RECORD_VALUES = operator.attrgetter(*_RECORD_COLUMNS)
# Types whose Python values both drivers bind exactly as SQLAlchemy's processor for them
# would (bool stays a bool or becomes the same 0/1, a float stays a float): skipping those
# processors is most of the per-value cost. Exact types, not subclasses (an Enum is a
# String that needs its processor); any other type (the UTC datetime) keeps its own.
_DRIVER_NATIVE = frozenset({BigInteger, Boolean, Float, Integer, String})


def _record_rows(records: Sequence[UsageRecord], dialect: Any) -> list[Any]:
    """The records as row tuples in ``_RECORD_COLUMNS`` order, with the bind processors
    that matter applied column by column (the same stored values as the ORM would write)."""
    rows: list[Any] = list(map(_RECORD_VALUES, records))
    processors = [
        (i, p)
        for i, column in enumerate(_RECORD_TABLE.columns)
        if type(column.type) not in _DRIVER_NATIVE
        # dialect_impl: the dialect's own processor (SQLite's DATETIME string format),
        # not the generic type's, which passes the datetime through to the driver.
        and (p := column.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    ]
    if not processors:
        return rows
    columns = list(zip(*rows, strict=True))
    for i, process in processors:
        columns[i] = tuple(None if v is None else process(v) for v in columns[i])
    return list(zip(*columns, strict=True))


def _stored_ids(conn: Any, ids: list[str]) -> set[str]:
    """Which of ``ids`` are already stored, as one parameter (a JSON array on SQLite, an
    array on PostgreSQL), not one bind parameter per id: compiling 5000 of those cost
    more than the lookups. Both plans are a primary-key probe per id."""
    if conn.dialect.name == "postgresql":
        probe = UsageRecordRow.id == any_(bindparam("ids", ids, type_=ARRAY(String)))
        return set(conn.execute(select(UsageRecordRow.id).where(probe)).scalars())
    found = conn.exec_driver_sql(
        "SELECT id FROM usage_records WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(ids),),
    )
    return {row[0] for row in found}


def _sqlite_records(conn: Any, records: Sequence[UsageRecord]) -> None:
    """sqlite3's own executemany of pre-built tuples: several times faster than
    SQLAlchemy's per-row parameter handling (measured by the bench)."""
    marks = ", ".join("?" * len(_RECORD_COLUMNS))
    sql = (
        f"INSERT INTO usage_records ({', '.join(_RECORD_COLUMNS)}) "  # noqa: S608
        f"VALUES ({marks}) ON CONFLICT (id) DO NOTHING"
    )
    conn.exec_driver_sql(sql, _record_rows(records, conn.dialect))


def _copy_records(conn: Any, records: Sequence[UsageRecord]) -> None:
    """PostgreSQL's binary COPY: several times the rate of any INSERT form, and binary
    with the column types set up front is a quarter of the CPU of text COPY (measured by
    bench/usage_bench.py). The types are read from the catalog, so they are the table's
    own (binary COPY needs them exact). The ids were checked just before, in this
    transaction, and are made per replica, so no conflict can arise."""
    raw = conn.connection.driver_connection
    types = dict(
        conn.exec_driver_sql(
            "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = "
            "'usage_records'::regclass AND attnum > 0 AND NOT attisdropped"
        ).all()
    )
    columns = ", ".join(_RECORD_COLUMNS)
    with (
        raw.cursor() as cursor,
        cursor.copy(f"COPY usage_records ({columns}) FROM STDIN (FORMAT BINARY)") as copy,
    ):
        copy.set_types([types[c] for c in _RECORD_COLUMNS])
        for row in _record_rows(records, conn.dialect):
            copy.write_row(row)


@functools.cache
def _upsert(dialect: str, row_class: type[UsageHourlyRow] | type[UsageDailyRow]) -> Any:
    """The counters' upsert, built once per dialect and table: building it (``excluded``
    proxies every column, ~30 SET expressions) cost a batch more than executing it, and
    a batch is written every flush interval on the gateway's own process. The dialects
    are imported here, by the writer's thread, not by ``serve``'s start-up."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = row_class.__table__
    statement = insert(table)
    excluded = statement.excluded
    updates: dict[str, Any] = {c: table.c[c] + excluded[c] for c in SUMMED}
    updates["last_at"] = case(
        (excluded.last_at > table.c.last_at, excluded.last_at), else_=table.c.last_at
    )
    for name in ("endpoint_name", "key_name", "token_name"):
        updates[name] = excluded[name]
    return statement.on_conflict_do_update(
        index_elements=["hour", "endpoint_id", "key_id", "token_id", "model", "provider"],
        set_=updates,
    )


def rollup(records: Sequence[UsageRecord]) -> dict[RollupKey, dict[str, Any]]:
    """The hourly counter rows a set of records adds up to."""
    out: dict[RollupKey, dict[str, Any]] = {}
    for r in records:
        key = (
            hour_of(r.at),
            r.endpoint_id or "",
            r.key_id or "",
            r.token_id or "",
            r.model or "",
            r.provider or "",
        )
        row = out.get(key)
        if row is None:
            row = out[key] = {
                "hour": key[0],
                "endpoint_id": key[1],
                "key_id": key[2],
                "token_id": key[3],
                "model": key[4],
                "provider": key[5],
                "endpoint_name": r.endpoint_name or "",
                "key_name": r.key_name or "",
                "token_name": r.token_name or "",
                "last_at": r.at,
                **dict.fromkeys(SUMMED, 0),
            }
            row["cost_usd"] = 0.0
        row["requests"] += 1
        row["errors"] += r.is_error
        row["input_tokens"] += r.input_tokens or 0
        row["output_tokens"] += r.output_tokens or 0
        row["cached_input_tokens"] += r.cached_input_tokens or 0
        row["cache_write_tokens"] += r.cache_write_tokens or 0
        row["cost_usd"] += r.cost_usd or 0.0
        row[LATENCY_COLUMNS[latency_bucket(r.latency_ms)]] += 1
        if r.at >= row["last_at"]:
            row["last_at"] = r.at
            row["endpoint_name"] = r.endpoint_name or ""
            row["key_name"] = r.key_name or ""
            row["token_name"] = r.token_name or ""
    return out


def by_day(hourly: dict[RollupKey, dict[str, Any]]) -> dict[RollupKey, dict[str, Any]]:
    """Hourly counter rows summed per UTC day (keyed by the day's first hour)."""
    out: dict[RollupKey, dict[str, Any]] = {}
    for key, row in hourly.items():
        day_key = (key[0] - key[0] % 24, *key[1:])
        day = out.get(day_key)
        if day is None:
            out[day_key] = {**row, "hour": day_key[0]}
            continue
        for name in SUMMED:
            day[name] += row[name]
        if row["last_at"] >= day["last_at"]:
            for name in ("last_at", "endpoint_name", "key_name", "token_name"):
                day[name] = row[name]
    return out


def purge(
    store: Store, retention_days: int, now: datetime | None = None, chunk: int = 20_000
) -> int:
    """Delete records and counters older than the retention, a chunk per transaction
    (a long delete would hold the writer's inserts back)."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    removed = 0
    while True:
        with store.write(bump=False) as session:
            ids = select(UsageRecordRow.id).where(UsageRecordRow.at < cutoff).limit(chunk)
            result = session.execute(
                delete(UsageRecordRow).where(UsageRecordRow.id.in_(ids.scalar_subquery()))
            )
            gone = int(cast(CursorResult[Any], result).rowcount)
        removed += gone
        if gone < chunk:
            break
    with store.write(bump=False) as session:
        session.execute(delete(UsageHourlyRow).where(UsageHourlyRow.hour < hour_of(cutoff)))
        # A day partly inside the retention stays (its counters cannot be split).
        first_day = hour_of(cutoff) - hour_of(cutoff) % 24
        session.execute(delete(UsageDailyRow).where(UsageDailyRow.hour < first_day))
    return removed


def count(store: Store) -> int:
    with store.read() as session:
        return int(session.scalar(select(func.count()).select_from(UsageRecordRow)) or 0)
