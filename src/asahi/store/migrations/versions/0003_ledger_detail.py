"""Ledger rows carry what a request's detail view shows: the cache outcome by name (t3 and bypass included),
cache writes and reasoning tokens as the provider billed them, the routing reason and the alternatives weighed,
the tier 2 similarity, the error code of a failed request, and the part of the saving the provider's
prompt cache made (tier 3), so a request both routed and prompt-cached reports each cause.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage_records") as table:
        table.add_column(sa.Column("cache", sa.String(8), nullable=False, server_default="miss"))
        table.add_column(sa.Column("cache_write_tokens", sa.Integer, nullable=False, server_default="0"))
        table.add_column(sa.Column("reasoning_tokens", sa.Integer, nullable=False, server_default="0"))
        table.add_column(sa.Column("routing_reason", sa.String(500), nullable=True))
        table.add_column(sa.Column("alternatives", sa.JSON, nullable=True))
        table.add_column(sa.Column("similarity", sa.Float, nullable=True))
        table.add_column(sa.Column("error_code", sa.String(64), nullable=True))
        table.add_column(sa.Column("prompt_cache_saved_usd", sa.Float, nullable=True))
    op.execute("UPDATE usage_records SET cache = CASE cache_tier WHEN 1 THEN 't1' WHEN 2 THEN 't2' "
               "ELSE CASE WHEN cached_input_tokens > 0 THEN 't3' ELSE 'miss' END END")
    op.create_index("ix_usage_records_org_request", "usage_records", ["org_id", "created_at", "id"])
    op.drop_index("ix_usage_records_org_created", "usage_records")


def downgrade() -> None:
    op.create_index("ix_usage_records_org_created", "usage_records", ["org_id", "created_at"])
    op.drop_index("ix_usage_records_org_request", "usage_records")
    with op.batch_alter_table("usage_records") as table:
        for name in ("prompt_cache_saved_usd", "error_code", "similarity", "alternatives", "routing_reason",
                     "reasoning_tokens", "cache_write_tokens", "cache"):
            table.drop_column(name)
