"""Budget counters in the database, for a gateway without Redis (or while it is down).

Each reserve is one transaction that first writes the counter rows it needs (in a fixed order, so two requests
never wait on each other crosswise): on PostgreSQL that takes their row locks, on SQLite the single writer's
lock, so the check and the hold that follow see every committed reservation and no other one can slip between.
A counter row starts from the ledger's sum; `refresh` makes the next use of each counter read the ledger again
(after spend went through Redis, which these rows did not see), raising the counter to it, never lowering it.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from asahi.governance.budgets.counters import Claim, Level, Refusal
from asahi.governance.budgets.ledger_spent import spent_nano
from asahi.store.tables import budget_counters, budget_reservations


def _counter(claim: Claim) -> ColumnElement[bool]:
    return and_(budget_counters.c.budget_id == claim.ref.id, budget_counters.c.period_start == claim.period.start)


_SWEEP_EVERY = 256  # holds, between sweeps of expired ones


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything stored is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


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
        self._reserves = 0

    def refresh(self) -> None:
        self._fresh.clear()

    async def _ensure(self, connection: AsyncConnection, claims: list[Claim], now: datetime) -> list[str]:
        """The first use of a counter since the last refresh re-reads it from the ledger (one request per
        instance does, marked before it commits so concurrent ones do not read it again). Returns the keys it
        marked, to unmark should the transaction fail. A counter that does not exist yet is made by `_locked`."""
        marked = []
        for claim in claims:
            if claim.key not in self._fresh:
                self._fresh.add(claim.key)
                marked.append(claim.key)
                spent = await spent_nano(connection, claim)
                statement = self._insert().values(
                    budget_id=claim.ref.id, period_start=claim.period.start, spent_nano=spent, updated_at=now)
                # Never lower a counter: another instance may have settled spend whose ledger rows are still on
                # their way to the database, and the ledger's sum would forget it.
                larger = (func.max if self._sqlite else func.greatest)(budget_counters.c.spent_nano,
                                                                        statement.excluded.spent_nano)
                await connection.execute(statement.on_conflict_do_update(
                    index_elements=["budget_id", "period_start"], set_={"spent_nano": larger, "updated_at": now}))
        return marked

    def _insert(self) -> Any:
        return (sqlite_insert if self._sqlite else pg_insert)(budget_counters)

    async def _transaction(self, claims: list[Claim], now: datetime, work: Any) -> Any:
        marked: list[str] = []
        try:
            async with self._engine.begin() as connection:
                marked = await self._ensure(connection, claims, now)
                return await work(connection)
        except BaseException:
            self._fresh.difference_update(marked)
            raise

    async def _lock(self, connection: AsyncConnection, claim: Claim, now: datetime) -> int:
        """Write the counter (taking its lock) and read its spend in one statement; made from the ledger first
        when it does not exist yet."""
        touch = update(budget_counters).where(_counter(claim)).values(updated_at=now).returning(
            budget_counters.c.spent_nano)
        spent = (await connection.execute(touch)).scalar()
        if spent is None:
            await connection.execute(self._insert().values(
                budget_id=claim.ref.id, period_start=claim.period.start, spent_nano=await spent_nano(connection, claim),
                updated_at=now).on_conflict_do_nothing(index_elements=["budget_id", "period_start"]))
            spent = (await connection.execute(touch)).scalar_one()
        return int(spent)

    async def _locked(self, connection: AsyncConnection, claims: list[Claim], now: datetime) -> list[Level]:
        """Lock each counter and read what stands: its spend, and the holds not yet expired (one query for all)."""
        if not claims:
            return []
        spent = [await self._lock(connection, claim, now) for claim in claims]
        self._reserves += 1
        if self._reserves % _SWEEP_EVERY == 0:  # holds of killed processes: they stopped counting, now they go
            await connection.execute(delete(budget_reservations).where(
                or_(*[_held(c) for c in claims]), budget_reservations.c.expires_at <= now))
        held = {(row[0], _utc(row[1])): int(row[2]) for row in (await connection.execute(
            select(budget_reservations.c.budget_id, budget_reservations.c.period_start,
                   func.sum(budget_reservations.c.amount_nano))
            .where(or_(*[_held(c) for c in claims]), budget_reservations.c.expires_at > now)
            .group_by(budget_reservations.c.budget_id, budget_reservations.c.period_start))).all()}
        return [Level(s, held.get((c.ref.id, c.period.start), 0)) for c, s in zip(claims, spent, strict=True)]

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
                after = (await connection.execute(update(budget_counters).where(_counter(claim)).values(
                    spent_nano=budget_counters.c.spent_nano + actual_nano, updated_at=now,
                ).returning(budget_counters.c.spent_nano))).scalar()
                spent.append(None if after is None else int(after))
        return spent

    async def levels(self, claims: list[Claim]) -> list[Level]:
        now = datetime.now(UTC)

        async def read(connection: AsyncConnection) -> list[Level]:
            return await self._locked(connection, claims, now)

        levels: list[Level] = await self._transaction(sorted(claims, key=lambda c: c.key), now, read)
        by_key = {c.key: level for c, level in zip(sorted(claims, key=lambda c: c.key), levels, strict=True)}
        return [by_key[c.key] for c in claims]
