"""credential versions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 05:28:43.139729
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_key_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key_id", sa.String(length=36), nullable=False),
        sa.Column("credential_version", sa.Integer(), nullable=False),
        sa.Column("secret_fields", sa.String(length=500), nullable=False),
        sa.Column("format", sa.Integer(), nullable=False),
        sa.Column("kek_version", sa.Integer(), nullable=False),
        sa.Column("wrapped_dek", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("masked", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["key_id"], ["api_keys.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("api_key_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_key_versions_kek_version"), ["kek_version"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_api_key_versions_key_id"), ["key_id"], unique=False)

    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        # Existing keys are at their first credential version.
        batch_op.add_column(
            sa.Column("credential_version", sa.Integer(), nullable=False, server_default="1")
        )


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("credential_version")

    with op.batch_alter_table("api_key_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_key_versions_key_id"))
        batch_op.drop_index(batch_op.f("ix_api_key_versions_kek_version"))

    op.drop_table("api_key_versions")
