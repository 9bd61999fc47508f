"""Where usage records land: one transaction per batch, the records and their hourly
counters together, so the counters never disagree with the records they count.

A batch may be retried after a failure whose outcome is unknown (the connection died
during COMMIT). Records carry ids made by the replica, inserted ``ON CONFLICT DO
NOTHING ... RETURNING id``, and only the rows that really went in are counted: a retry
writes nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from sqlalchemy import ARRAY, CursorResult, String, any_, bindparam, case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from keyhouse.store.models import UsageDailyRow, UsageHourlyRow, UsageRecordRow
from keyhouse.store.store import Store
from keyhouse.usage.record import LATENCY_BUCKETS, UsageRecord, latency_bucket

LATENCY_COLUMNS = tuple(f"lat_{i:02d}" for i in range(LATENCY_BUCKETS))
_SUMMED = (
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


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


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
        ids = list(by_id)
        probe = (
            UsageRecordRow.id == any_(bindparam("ids", ids, type_=ARRAY(String)))
            if postgres
            else UsageRecordRow.id.in_(ids)
        )  # one array, not N params
        stored = set(conn.execute(select(UsageRecordRow.id).where(probe)).scalars())
        fresh = [r for i, r in by_id.items() if i not in stored]
        if not fresh:
            return 0
        insert = _insert(session)
        if postgres:
            _copy_records(conn, fresh)
        else:
            _sqlite_records(conn, fresh)
        hourly = rollup(fresh)
        # Sorted: two replicas upserting the same rows lock them in the same order.
        for table, rows in ((UsageHourlyRow, hourly), (UsageDailyRow, by_day(hourly))):
            conn.execute(_upsert(insert, table), [rows[k] for k in sorted(rows)])
        return len(fresh)


_RECORD_COLUMNS = tuple(c.name for c in UsageRecordRow.__table__.columns)


def _sqlite_records(conn: Any, records: Sequence[UsageRecord]) -> None:
    """sqlite3's own executemany with the columns' bind processors applied: several
    times faster than SQLAlchemy's per-row parameter handling (measured by the bench)."""
    table = UsageRecordRow.__table__
    processors = [table.c[c].type.bind_processor(conn.dialect) for c in _RECORD_COLUMNS]
    marks = ", ".join("?" * len(_RECORD_COLUMNS))
    sql = (
        f"INSERT INTO usage_records ({', '.join(_RECORD_COLUMNS)}) "  # noqa: S608
        f"VALUES ({marks}) ON CONFLICT (id) DO NOTHING"
    )
    rows = []
    for r in records:
        values = [getattr(r, c) for c in _RECORD_COLUMNS]
        rows.append(
            tuple(
                v if p is None or v is None else p(v)
                for v, p in zip(values, processors, strict=True)
            )
        )
    conn.exec_driver_sql(sql, rows)


def _copy_records(conn: Any, records: Sequence[UsageRecord]) -> None:
    """PostgreSQL's COPY: several times the rate of any INSERT form (measured by
    bench/usage_bench.py). The ids were checked just before, in this transaction, and
    are made per replica, so no conflict can arise."""
    raw = conn.connection.driver_connection
    columns = ", ".join(_RECORD_COLUMNS)
    with raw.cursor() as cursor, cursor.copy(f"COPY usage_records ({columns}) FROM STDIN") as copy:
        for r in records:
            copy.write_row([getattr(r, c) for c in _RECORD_COLUMNS])


def _upsert(insert: Any, row_class: type[UsageHourlyRow] | type[UsageDailyRow]) -> Any:
    table = row_class.__table__
    statement = insert(table)
    excluded = statement.excluded
    updates: dict[str, Any] = {c: table.c[c] + excluded[c] for c in _SUMMED}
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
                **dict.fromkeys(_SUMMED, 0),
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
        for name in _SUMMED:
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
