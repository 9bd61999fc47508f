"""usage counts prompt-cache writes apart from the other input tokens

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 12:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COUNTERS = ("usage_hourly", "usage_daily")


def upgrade() -> None:
    # Records written before this revision did not count writes apart: NULL, unknown.
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cache_write_tokens", sa.Integer(), nullable=True))
    # The counters sum it; rows from before start at 0 (their writes are in input_tokens).
    for table in COUNTERS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("cache_write_tokens", sa.BigInteger(), nullable=False, server_default="0")
            )


def downgrade() -> None:
    for table in (*COUNTERS, "usage_records"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("cache_write_tokens")
