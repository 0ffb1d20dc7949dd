"""Feedback on tier 2 hits is kept, so an org's measured rate of wrong hits survives restarts and is the same on
every instance.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tier2_feedback",
        sa.Column("request_id", sa.String(40), primary_key=True),
        sa.Column("org_id", sa.String(32), nullable=False),
        sa.Column("correct", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_tier2_feedback_org", "tier2_feedback", ["org_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_tier2_feedback_org", "tier2_feedback")
    op.drop_table("tier2_feedback")
