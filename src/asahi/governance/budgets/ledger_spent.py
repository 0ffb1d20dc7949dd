"""A budget's spend in a period, summed from the ledger: what every counter starts from and is rebuilt from."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from asahi.governance.budgets.counters import Claim
from asahi.governance.budgets.spec import to_nano
from asahi.store.tables import usage_records


async def spent_nano(connection: AsyncConnection, claim: Claim) -> int:
    owner = usage_records.c.org_id if claim.ref.scope == "org" else usage_records.c.key_id
    query = select(func.coalesce(func.sum(usage_records.c.cost_usd), 0.0)).where(
        owner == claim.ref.owner,
        usage_records.c.created_at >= claim.period.start,
        usage_records.c.created_at < claim.period.end,
    )
    return to_nano(float((await connection.execute(query)).scalar_one()))
