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

from sqlalchemy import CursorResult, case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from keyhouse.store.models import UsageHourlyRow, UsageRecordRow
from keyhouse.store.store import Store
from keyhouse.usage.record import LATENCY_BUCKETS, UsageRecord, latency_bucket

LATENCY_COLUMNS = tuple(f"lat_{i:02d}" for i in range(LATENCY_BUCKETS))
_SUMMED = ("requests", "errors", "input_tokens", "output_tokens", "cached_input_tokens",
           "cost_usd", *LATENCY_COLUMNS)
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
        insert = _insert(session)
        statement = (insert(UsageRecordRow).on_conflict_do_nothing(index_elements=["id"])
                     .returning(UsageRecordRow.id))
        inserted = list(session.execute(statement, [r.row() for r in by_id.values()])
                        .scalars())
        rollups = rollup([by_id[i] for i in inserted])
        if rollups:
            upsert = insert(UsageHourlyRow)
            excluded = upsert.excluded
            table = UsageHourlyRow.__table__
            updates: dict[str, Any] = {c: table.c[c] + excluded[c] for c in _SUMMED}
            updates["last_at"] = case((excluded.last_at > table.c.last_at, excluded.last_at),
                                      else_=table.c.last_at)
            for name in ("endpoint_name", "key_name", "token_name"):
                updates[name] = excluded[name]
            upsert = upsert.on_conflict_do_update(
                index_elements=["hour", "endpoint_id", "key_id", "token_id", "model",
                                "provider"], set_=updates)
            # Sorted: two replicas upserting the same rows lock them in the same order.
            session.execute(upsert, [rollups[k] for k in sorted(rollups)])
        return len(inserted)


def rollup(records: Sequence[UsageRecord]) -> dict[RollupKey, dict[str, Any]]:
    """The hourly counter rows a set of records adds up to."""
    out: dict[RollupKey, dict[str, Any]] = {}
    for r in records:
        key = (hour_of(r.at), r.endpoint_id or "", r.key_id or "", r.token_id or "",
               r.model or "", r.provider or "")
        row = out.get(key)
        if row is None:
            row = out[key] = {
                "hour": key[0], "endpoint_id": key[1], "key_id": key[2], "token_id": key[3],
                "model": key[4], "provider": key[5], "endpoint_name": r.endpoint_name or "",
                "key_name": r.key_name or "", "token_name": r.token_name or "",
                "last_at": r.at, **dict.fromkeys(_SUMMED, 0)}
            row["cost_usd"] = 0.0
        row["requests"] += 1
        row["errors"] += r.is_error
        row["input_tokens"] += r.input_tokens or 0
        row["output_tokens"] += r.output_tokens or 0
        row["cached_input_tokens"] += r.cached_input_tokens or 0
        row["cost_usd"] += r.cost_usd or 0.0
        row[LATENCY_COLUMNS[latency_bucket(r.latency_ms)]] += 1
        if r.at >= row["last_at"]:
            row["last_at"] = r.at
            row["endpoint_name"] = r.endpoint_name or ""
            row["key_name"] = r.key_name or ""
            row["token_name"] = r.token_name or ""
    return out


def purge(store: Store, retention_days: int, now: datetime | None = None,
          chunk: int = 20_000) -> int:
    """Delete records and counters older than the retention, a chunk per transaction
    (a long delete would hold the writer's inserts back)."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    removed = 0
    while True:
        with store.write(bump=False) as session:
            ids = select(UsageRecordRow.id).where(UsageRecordRow.at < cutoff).limit(chunk)
            result = session.execute(delete(UsageRecordRow).where(
                UsageRecordRow.id.in_(ids.scalar_subquery())))
            gone = int(cast(CursorResult[Any], result).rowcount)
        removed += gone
        if gone < chunk:
            break
    with store.write(bump=False) as session:
        session.execute(delete(UsageHourlyRow).where(UsageHourlyRow.hour < hour_of(cutoff)))
    return removed


def count(store: Store) -> int:
    with store.read() as session:
        return int(session.scalar(select(func.count()).select_from(UsageRecordRow)) or 0)
