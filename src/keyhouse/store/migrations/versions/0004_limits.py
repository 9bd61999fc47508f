"""token lifecycle and limits

Access tokens gain an expiry, limits and the replaced secret's hash with its grace end
(rotation); endpoints and keys gain limits.

Revision ID: 0004
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("limits", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("previous_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("previous_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint("uq_access_tokens_previous_hash", ["previous_hash"])
    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("limits", sa.JSON(), nullable=True))
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("limits", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("limits")
    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.drop_column("limits")
    with op.batch_alter_table("access_tokens", schema=None) as batch_op:
        batch_op.drop_constraint("uq_access_tokens_previous_hash", type_="unique")
        batch_op.drop_column("rotated_at")
        batch_op.drop_column("previous_expires_at")
        batch_op.drop_column("previous_hash")
        batch_op.drop_column("limits")
        batch_op.drop_column("expires_at")
