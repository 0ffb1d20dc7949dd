"""Tier 2 entries keep the confirming model's vector beside the one the index searches (the local two-stage pair:
static table to search, MiniLM to confirm), so a restart does not re-embed what a lookup already embedded.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("semantic_entries") as batch:
        batch.add_column(sa.Column("confirm_vector", sa.LargeBinary, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("semantic_entries") as batch:
        batch.drop_column("confirm_vector")
