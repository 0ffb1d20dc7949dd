"""Responses API answers are kept per org, so a later request can continue one by `previous_response_id` on any
instance.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_responses",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("org_id", sa.String(32), nullable=False),
        sa.Column("conversation", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_stored_responses_org", "stored_responses", ["org_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_stored_responses_org", "stored_responses")
    op.drop_table("stored_responses")
