"""A budget's spend in a period, summed from the ledger: what every counter starts from and is rebuilt from."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from asahi.governance.budgets.counters import Claim
from asahi.governance.budgets.spec import BudgetRef, to_nano
from asahi.governance.budgets.window import Period
from asahi.store.tables import usage_records


async def spent_nano(connection: AsyncConnection, claim: Claim) -> int:
    return await spent_between(connection, claim.ref, claim.period)


async def spent_between(connection: AsyncConnection, ref: BudgetRef, between: Period) -> int:
    owner = usage_records.c.org_id if ref.scope == "org" else usage_records.c.key_id
    query = select(func.coalesce(func.sum(usage_records.c.cost_usd), 0.0)).where(
        owner == ref.owner,
        usage_records.c.created_at >= between.start,
        usage_records.c.created_at < between.end,
    )
    return to_nano(float((await connection.execute(query)).scalar_one()))
