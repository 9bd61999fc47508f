"""endpoint aliases

Revision ID: 0005
Revises: 0002
Create Date: 2026-12-01 09:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "endpoint_aliases",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["endpoint_id"], ["endpoints.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("endpoint_aliases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_endpoint_aliases_endpoint_id"), ["endpoint_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("endpoint_aliases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_endpoint_aliases_endpoint_id"))
    op.drop_table("endpoint_aliases")
