"""Feedback on tier 2 hits, kept beside their ledger rows: the measured rate of wrong hits comes from here.

Tier 2 learns from a label at once (in memory, then in its entry's state); this table is what the org sees
afterwards, the same on every instance and after a restart. A second verdict on a request replaces the first.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.store.tables import tier2_feedback


async def record(engine: AsyncEngine, org_id: str, request_id: str, correct: bool) -> None:
    async with engine.begin() as connection:
        await connection.execute(delete(tier2_feedback).where(
            tier2_feedback.c.request_id == request_id, tier2_feedback.c.org_id == org_id))
        await connection.execute(tier2_feedback.insert().values(
            request_id=request_id, org_id=org_id, correct=correct, created_at=datetime.now(UTC)))
