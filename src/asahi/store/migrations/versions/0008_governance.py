"""Governance: spend budgets (their counters, reservations and sent alerts), virtual keys (per-key models, rate
limits and budgets), suspended orgs, each org's own provider credentials (sealed), and an audit log whose rows
are chained by hash and say which request and client address made each change.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as table:
        table.add_column(sa.Column("allowed_models", sa.JSON, nullable=True))
        table.add_column(sa.Column("requests_per_minute", sa.Integer, nullable=True))
        table.add_column(sa.Column("tokens_per_minute", sa.Integer, nullable=True))
        table.add_column(sa.Column("budgets", sa.JSON, nullable=True))
    with op.batch_alter_table("orgs") as table:
        table.add_column(sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True))
        table.add_column(sa.Column("policy_key_id", sa.String(16), nullable=True))
    with op.batch_alter_table("audit_log") as table:
        table.add_column(sa.Column("request_id", sa.String(40), nullable=True))
        table.add_column(sa.Column("client", sa.String(64), nullable=True))
        table.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        table.add_column(sa.Column("hash", sa.String(64), nullable=True))
    # The details of older rows may hold a whole policy: keep only which fields changed.
    op.execute("UPDATE audit_log SET details = NULL WHERE action = 'policy.update'")
    op.create_index("ix_usage_records_key_created", "usage_records", ["key_id", "created_at"])
    op.create_table(
        "budget_counters",
        sa.Column("budget_id", sa.String(120), primary_key=True),
        sa.Column("period_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("spent_nano", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "budget_reservations",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("budget_id", sa.String(120), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount_nano", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_budget_reservations_budget", "budget_reservations", ["budget_id", "period_start"])
    op.create_table(
        "budget_alerts",
        sa.Column("budget_id", sa.String(120), primary_key=True),
        sa.Column("period_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("threshold", sa.Integer, primary_key=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "provider_credentials",
        sa.Column("org_id", sa.String(32), sa.ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("provider", sa.String(50), primary_key=True),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("suffix", sa.String(8), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("provider_credentials")
    op.drop_table("budget_alerts")
    op.drop_index("ix_budget_reservations_budget", "budget_reservations")
    op.drop_table("budget_reservations")
    op.drop_table("budget_counters")
    op.drop_index("ix_usage_records_key_created", "usage_records")
    with op.batch_alter_table("audit_log") as table:
        for name in ("hash", "prev_hash", "client", "request_id"):
            table.drop_column(name)
    with op.batch_alter_table("orgs") as table:
        table.drop_column("policy_key_id")
        table.drop_column("suspended_at")
    with op.batch_alter_table("api_keys") as table:
        for name in ("budgets", "tokens_per_minute", "requests_per_minute", "allowed_models"):
            table.drop_column(name)
