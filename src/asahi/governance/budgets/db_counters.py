"""Budget counters in the database, for a gateway without Redis (or while it is down).

Each reserve is one transaction that first writes the counter rows it needs (in a fixed order, so two requests
never wait on each other crosswise): on PostgreSQL that takes their row locks, on SQLite the single writer's
lock, so the check and the hold that follow see every committed reservation and no other one can slip between.
A counter row starts from the ledger's sum; `refresh` makes the next use of each counter read the ledger again
(after spend went through Redis, which these rows did not see).
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from asahi.governance.budgets.counters import Claim, Level, Refusal
from asahi.governance.budgets.ledger_spent import spent_nano
from asahi.store.tables import budget_counters, budget_reservations


def _counter(claim: Claim) -> ColumnElement[bool]:
    return and_(budget_counters.c.budget_id == claim.ref.id, budget_counters.c.period_start == claim.period.start)


def _hold_id(reservation: str, claim: Claim) -> str:
    return hashlib.sha256(f"{reservation}:{claim.key}".encode()).hexdigest()


def _held(claim: Claim) -> ColumnElement[bool]:
    return and_(budget_reservations.c.budget_id == claim.ref.id,
                budget_reservations.c.period_start == claim.period.start)


class DatabaseCounters:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._fresh: set[str] = set()  # counters read from the ledger since the last `refresh`
        # SQLite takes one writer at a time anyway; queueing them here spares its busy-wait.
        self._writer = asyncio.Lock() if self._sqlite else None

    def refresh(self) -> None:
        self._fresh.clear()

    async def _ensure(self, connection: AsyncConnection, claims: list[Claim], now: datetime) -> list[str]:
        """Make sure each counter exists; the first use since the last refresh re-reads it from the ledger (one
        request per instance does, marked before it commits so concurrent ones do not read it again). Returns the
        keys it marked, to unmark should the transaction fail."""
        insert = sqlite_insert if self._sqlite else pg_insert
        marked = []
        for claim in claims:
            if claim.key not in self._fresh:
                self._fresh.add(claim.key)
                marked.append(claim.key)
                spent = await spent_nano(connection, claim)
                statement = insert(budget_counters).values(
                    budget_id=claim.ref.id, period_start=claim.period.start, spent_nano=spent, updated_at=now)
                await connection.execute(statement.on_conflict_do_update(
                    index_elements=["budget_id", "period_start"], set_={"spent_nano": spent, "updated_at": now}))
                continue
            exists = (await connection.execute(select(budget_counters.c.budget_id).where(_counter(claim)))).first()
            if exists is None:
                spent = await spent_nano(connection, claim)
                await connection.execute(insert(budget_counters).values(
                    budget_id=claim.ref.id, period_start=claim.period.start, spent_nano=spent, updated_at=now,
                ).on_conflict_do_nothing(index_elements=["budget_id", "period_start"]))
        return marked

    async def _transaction(self, claims: list[Claim], now: datetime, work: Any) -> Any:
        marked: list[str] = []
        try:
            async with self._engine.begin() as connection:
                marked = await self._ensure(connection, claims, now)
                return await work(connection)
        except BaseException:
            self._fresh.difference_update(marked)
            raise

    async def _locked(self, connection: AsyncConnection, claims: list[Claim], now: datetime) -> list[Level]:
        """Lock each counter (by writing it), drop dead reservations, and read what stands."""
        levels = []
        for claim in claims:
            await connection.execute(update(budget_counters).where(_counter(claim)).values(updated_at=now))
            await connection.execute(delete(budget_reservations).where(
                _held(claim), budget_reservations.c.expires_at <= now))
            spent = (await connection.execute(select(budget_counters.c.spent_nano).where(_counter(claim))
                                              )).scalar_one()
            reserved = (await connection.execute(select(func.coalesce(func.sum(budget_reservations.c.amount_nano), 0))
                                                 .where(_held(claim)))).scalar_one()
            levels.append(Level(int(spent), int(reserved)))
        return levels

    async def reserve(self, claims: list[Claim], reservation: str, amount_nano: int, ttl: float
                      ) -> Refusal | None:
        ordered = sorted(claims, key=lambda c: c.key)
        now = datetime.now(UTC)
        if self._writer is None:
            return await self._reserve(ordered, reservation, amount_nano, ttl, now)
        async with self._writer:
            return await self._reserve(ordered, reservation, amount_nano, ttl, now)

    async def _reserve(self, claims: list[Claim], reservation: str, amount_nano: int, ttl: float, now: datetime
                       ) -> Refusal | None:
        async def hold(connection: AsyncConnection) -> Refusal | None:
            levels = await self._locked(connection, claims, now)
            for claim, level in zip(claims, levels, strict=True):
                over = level.spent_nano + level.reserved_nano + amount_nano > claim.limit_nano
                if claim.ref.budget.hard and over:
                    return Refusal(claim, level)
            expires = now + timedelta(seconds=ttl)
            await connection.execute(budget_reservations.insert(), [
                {"id": _hold_id(reservation, c), "budget_id": c.ref.id, "period_start": c.period.start,
                 "amount_nano": amount_nano, "expires_at": expires} for c in claims])
            return None

        refusal: Refusal | None = await self._transaction(claims, now, hold)
        return refusal

    async def settle(self, claims: list[Claim], reservation: str, actual_nano: int) -> list[int | None]:
        now = datetime.now(UTC)
        if self._writer is None:
            return await self._settle(claims, reservation, actual_nano, now)
        async with self._writer:
            return await self._settle(claims, reservation, actual_nano, now)

    async def _settle(self, claims: list[Claim], reservation: str, actual_nano: int, now: datetime
                      ) -> list[int | None]:
        spent: list[int | None] = []
        async with self._engine.begin() as connection:
            await connection.execute(delete(budget_reservations).where(
                budget_reservations.c.id.in_([_hold_id(reservation, c) for c in claims])))
            for claim in claims:
                result = await connection.execute(update(budget_counters).where(_counter(claim)).values(
                    spent_nano=budget_counters.c.spent_nano + actual_nano, updated_at=now))
                if result.rowcount == 0:
                    spent.append(None)
                    continue
                spent.append(int((await connection.execute(
                    select(budget_counters.c.spent_nano).where(_counter(claim)))).scalar_one()))
        return spent

    async def levels(self, claims: list[Claim]) -> list[Level]:
        now = datetime.now(UTC)

        async def read(connection: AsyncConnection) -> list[Level]:
            levels = []
            for claim in claims:
                spent = (await connection.execute(select(budget_counters.c.spent_nano).where(_counter(claim))
                                                  )).scalar_one()
                reserved = (await connection.execute(
                    select(func.coalesce(func.sum(budget_reservations.c.amount_nano), 0)).where(
                        _held(claim), budget_reservations.c.expires_at > now))).scalar_one()
                levels.append(Level(int(spent), int(reserved)))
            return levels

        levels: list[Level] = await self._transaction(claims, now, read)
        return levels
