"""Migrations are product code: one head, upgrade from empty on SQLite and PostgreSQL,
and the migrated schema matches the models."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from keyhouse.store import db
from keyhouse.store.models import Base
from keyhouse.store.store import Store
from keyhouse.usage.record import LATENCY_BUCKETS


def test_one_head_and_upgrade_from_empty_matches_models(database_url: str) -> None:
    store = Store(database_url)
    try:
        assert len(db.head_revisions(store.engine)) == 1
        assert db.current_revision(store.engine) is None
        db.upgrade(store.engine)
        assert db.is_up_to_date(store.engine)
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], diff
        assert store.config_version() == 0
        db.upgrade(store.engine)  # idempotent
        assert db.is_up_to_date(store.engine)
    finally:
        store.dispose()


def test_0006_counts_cache_writes_from_zero_on_existing_counters(database_url: str) -> None:
    """Counter rows from before 0006 hold their writes inside input_tokens: they start
    at 0 writes; records from before have NULL (unknown); downgrade drops the columns."""
    import sqlalchemy as sa
    from alembic import command

    store = Store(database_url)
    try:
        db.upgrade(store.engine, "0005")
        latency = {f"lat_{i:02d}": 0 for i in range(LATENCY_BUCKETS)}
        row = {
            "hour": 1,
            "endpoint_id": "e",
            "key_id": "k",
            "token_id": "t",
            "model": "m",
            "provider": "p",
            "endpoint_name": "e",
            "key_name": "k",
            "token_name": "t",
            "requests": 1,
            "errors": 0,
            "input_tokens": 10,
            "output_tokens": 2,
            "cached_input_tokens": 3,
            "cost_usd": 0.0,
            "last_at": sa.func.now(),
            **latency,
        }
        with store.engine.begin() as conn:
            for table in ("usage_hourly", "usage_daily"):
                conn.execute(sa.table(table, *map(sa.column, row)).insert().values(**row))
        db.upgrade(store.engine)
        with store.engine.connect() as conn:
            for table in ("usage_hourly", "usage_daily"):
                got = conn.execute(sa.text(f"SELECT cache_write_tokens FROM {table}")).all()
                assert got == [(0,)]
        command.downgrade(db.alembic_config(store.engine), "0005")
        columns = {c["name"] for c in sa.inspect(store.engine).get_columns("usage_records")}
        assert "cache_write_tokens" not in columns and "cached_input_tokens" in columns
    finally:
        store.dispose()


def test_head_from_file_names_is_alembics_head(database_url: str) -> None:
    """Start-up reads the head from the file names to keep alembic unimported; that
    holds only while every revision id is its file's prefix and the chain is linear."""
    from alembic.script import ScriptDirectory

    store = Store(database_url)
    try:
        scripts = ScriptDirectory.from_config(db.alembic_config(store.engine))
        assert db.head_revisions(store.engine) == (db.head_revision(),)
        revisions = list(scripts.walk_revisions())
        for revision in revisions:
            assert revision.path is not None
            assert Path(revision.path).name.startswith(f"{revision.revision}_")
            assert not revision.is_merge_point
        assert len({r.revision for r in revisions}) == len(revisions)
    finally:
        store.dispose()


def test_serve_start_on_a_current_schema_does_not_import_alembic(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from keyhouse.settings import Settings\n"
        "from keyhouse.services import bootstrap\n"
        "from keyhouse.app import create_app\n"
        "s = Settings()\n"
        "create_app(s, bootstrap(s))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako')))\n"
    )
    env = {**os.environ, "KEYHOUSE_HOME": str(tmp_path / "home")}
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "alembic" in first.stdout  # the first start migrates the new database
    again = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "[]"
