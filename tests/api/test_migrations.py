"""Migrations are product code: one head, upgrade from empty on SQLite and PostgreSQL,
and the migrated schema matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from keyhouse.store import db
from keyhouse.store.models import Base
from keyhouse.store.store import Store


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
