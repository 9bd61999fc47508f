"""usage records, hourly and daily usage counters, per-target price override

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 08:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

LATENCY_BUCKETS = 24  # a migration keeps its own copy: the model's count may change later


def upgrade() -> None:
    op.create_table(
        "usage_records",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("endpoint_id", sa.String(length=36), nullable=True),
        sa.Column("endpoint_name", sa.String(length=64), nullable=True),
        sa.Column("key_id", sa.String(length=36), nullable=True),
        sa.Column("key_name", sa.String(length=64), nullable=True),
        sa.Column("credential_version", sa.Integer(), nullable=True),
        sa.Column("provider", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=256), nullable=True),
        sa.Column("token_id", sa.String(length=36), nullable=True),
        sa.Column("token_name", sa.String(length=64), nullable=True),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("stream", sa.Boolean(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("ttfb_ms", sa.Float(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("cached_input_tokens", sa.Integer(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("fallback_used", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_usage_records_at", "usage_records", ["at"])
    op.create_index("ix_usage_records_endpoint_at", "usage_records", ["endpoint_id", "at"])
    op.create_index("ix_usage_records_key_at", "usage_records", ["key_id", "at"])
    op.create_index("ix_usage_records_token_at", "usage_records", ["token_id", "at"])

    for table in ("usage_hourly", "usage_daily"):
        _counters(table)

    with op.batch_alter_table("endpoint_targets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("price", sa.JSON(), nullable=True))


def _counters(table: str) -> None:
    op.create_table(
        table,
        sa.Column("hour", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("key_id", sa.String(length=36), nullable=False),
        sa.Column("token_id", sa.String(length=36), nullable=False),
        sa.Column("model", sa.String(length=256), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("endpoint_name", sa.String(length=64), nullable=False),
        sa.Column("key_name", sa.String(length=64), nullable=False),
        sa.Column("token_name", sa.String(length=64), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cached_input_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        *[sa.Column(f"lat_{i:02d}", sa.Integer(), nullable=False) for i in range(LATENCY_BUCKETS)],
        sa.PrimaryKeyConstraint("hour", "endpoint_id", "key_id", "token_id", "model", "provider"),
    )
    op.create_index(f"ix_{table}_endpoint", table, ["endpoint_id", "hour"])
    op.create_index(f"ix_{table}_key", table, ["key_id", "hour"])
    op.create_index(f"ix_{table}_token", table, ["token_id", "hour"])


def downgrade() -> None:
    with op.batch_alter_table("endpoint_targets", schema=None) as batch_op:
        batch_op.drop_column("price")
    op.drop_table("usage_daily")
    op.drop_table("usage_hourly")
    op.drop_table("usage_records")
