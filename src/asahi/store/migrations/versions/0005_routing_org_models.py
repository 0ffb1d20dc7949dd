"""Each org's online routing calibration (its verified requests per prompt family), kept across restarts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
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
        "routing_org_models",
        sa.Column("org_id", sa.String(32), primary_key=True),
        sa.Column("state", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("usage_records") as table:
        table.alter_column("saving_cause", type_=sa.String(32), existing_type=sa.String(20))


def downgrade() -> None:
    with op.batch_alter_table("usage_records") as table:
        table.alter_column("saving_cause", type_=sa.String(20), existing_type=sa.String(32))
    op.drop_table("routing_org_models")
