"""Budgets through a Redis outage: the database decides meanwhile, starting from the ledger, and Redis's counters
are rebuilt from the ledger when it returns, so no spend made during the outage is forgotten."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.governance import accounts
from asahi.governance.budgets.alerts import Alerts
from asahi.governance.budgets.service import BudgetExceeded, Budgets, refs
from asahi.governance.budgets.spec import Budget
from asahi.governance.refusals import RefusalLog
from asahi.redis_client import RedisLink
from asahi.store import db
from asahi.store.migrate import migrate
from asahi.store.tables import usage_records
from tests.conftest import REDIS_URL


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    built = db.create_engine(f"sqlite+aiosqlite:///{tmp_path / 'asahi.db'}")
    await migrate(built)
    yield built
    await built.dispose()


async def spend(engine: AsyncEngine, budgets: Budgets, org_id: str, usd: float, n: int) -> None:
    """One request: hold, settle, and its ledger row (the writer's job in the gateway)."""
    budget_refs = refs(org_id, [Budget(limit_usd=1.0, window="day")], "key-1", None)
    hold = await budgets.reserve(budget_refs, usd)
    assert hold is not None
    await budgets.settle(hold, usd)
    async with engine.begin() as connection:
        await connection.execute(usage_records.insert().values(
            request_id=f"req_{n}", org_id=org_id, key_id="key-1", surface="openai", cost_usd=usd, status=200,
            created_at=datetime.now(UTC)))


async def test_spend_during_an_outage_counts_when_redis_returns(engine: AsyncEngine,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    org, _ = await accounts.create_org_with_key(engine, "failover", "f@example.com", actor="test")
    link = RedisLink(REDIS_URL, probe_interval=3600)
    await link.start()
    assert link.client is not None
    await link.client.flushdb()
    budgets = Budgets(engine, link, Alerts(engine, None), RefusalLog(engine), hold_seconds=900)
    budget_refs = refs(org.id, [Budget(limit_usd=1.0, window="day")], "key-1", None)
    try:
        await spend(engine, budgets, org.id, 0.3, 1)  # on Redis
        monkeypatch.setattr(link, "_up", False)  # Redis goes away
        await spend(engine, budgets, org.id, 0.5, 2)  # on the database, which starts from the ledger's 0.3
        with pytest.raises(BudgetExceeded):
            await budgets.reserve(budget_refs, 0.3)
        monkeypatch.setattr(link, "_up", True)  # and comes back: its counter, 0.3, is stale
        [(_, level)] = await budgets.levels(budget_refs)
        assert level.spent_nano == 800_000_000 and level.reserved_nano == 0
        with pytest.raises(BudgetExceeded):
            await budgets.reserve(budget_refs, 0.3)
        assert await budgets.reserve(budget_refs, 0.2) is not None
    finally:
        await budgets.aclose()
        await link.client.flushdb()
        await link.aclose()
