"""Budgets on the request path: which budgets a request counts against, the hold on its worst case before any
provider call, and the settlement to what it really cost.

Counters live in Redis when it is configured and up (one script per reserve / settle, shared by the fleet), else
in the database. Switching between the two keeps both honest: counters the database path touched during a Redis
outage are dropped from Redis when it is back (rebuilt from the ledger on next use), and the database counters
re-read the ledger whenever this instance falls back to them.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.errors import AsahiError
from asahi.governance import audit
from asahi.governance.budgets.alerts import Alerts
from asahi.governance.budgets.counters import Claim, Counters, Level, Refusal, current_period
from asahi.governance.budgets.db_counters import DatabaseCounters
from asahi.governance.budgets.ledger_spent import spent_between
from asahi.governance.budgets.spec import Budget, BudgetRef, to_nano, to_usd
from asahi.governance.budgets.window import Period, earlier_days
from asahi.governance.refusals import RefusalLog

if TYPE_CHECKING:  # redis-py is imported only when REDIS_URL is set
    from asahi.governance.budgets.redis_counters import RedisCounters
from asahi.redis_client import RedisLink

log = logging.getLogger(__name__)
_LEDGER_SETTLING = timedelta(minutes=1)  # ledger rows reach the database within about 250 ms; a minute is ample
_MAX_REMEMBERED = 100_000


class BudgetExceeded(AsahiError):
    def __init__(self, refusal: Refusal) -> None:
        claim, level = refusal.claim, refusal.level
        budget = claim.ref.budget
        retry_after = max(1, round((claim.period.end - datetime.now(UTC)).total_seconds()))
        described = {
            "scope": claim.ref.scope, "id": claim.ref.owner, "window": budget.window,
            "limit_usd": budget.limit_usd, "spent_usd": to_usd(claim.earlier_nano + level.spent_nano),
            "reserved_usd": to_usd(level.reserved_nano), "resets_at": claim.period.end.isoformat(),
        }
        owner = "this org" if claim.ref.scope == "org" else "this API key"
        super().__init__(
            429, "budget_exceeded",
            f"The {budget.window} budget of {owner} would be exceeded: ${described['spent_usd']:.6f} spent and "
            f"${described['reserved_usd']:.6f} held of ${budget.limit_usd:g}; it resets at "
            f"{described['resets_at']}.",
            headers={"retry-after": str(retry_after)}, details={"budget": described},
        )
        self.refusal = refusal


@dataclass(slots=True)
class Hold:
    """A request's reservation; settled exactly once (a second settle is a no-op)."""

    claims: list[Claim]
    reservation: str
    amount_nano: int
    counters: Counters
    webhook: str | None
    settled: bool = field(default=False)


def refs(org_id: str, org_budgets: list[Budget] | None, key_id: str, key_budgets: list[Budget] | None
         ) -> list[BudgetRef]:
    return ([BudgetRef("org", org_id, org_id, b) for b in org_budgets or ()]
            + [BudgetRef("key", key_id, org_id, b) for b in key_budgets or ()])


class Budgets:
    def __init__(self, engine: AsyncEngine, link: RedisLink | None, alerts: Alerts, refusals: RefusalLog, *,
                 hold_seconds: float) -> None:
        self._link = link
        self._engine = engine
        self._refusals = refusals
        self._earlier_spent: dict[tuple[str, datetime], int] = {}  # (budget, today) -> its earlier days' spend
        self._database = DatabaseCounters(engine)
        self._redis: RedisCounters | None = None
        if link is not None and link.client is not None:
            from asahi.governance.budgets.redis_counters import RedisCounters  # loads redis-py

            self._redis = RedisCounters(link.client, engine)
        self._alerts = alerts
        self._hold_seconds = hold_seconds
        self._on_redis = True
        self._touched: dict[str, Claim] = {}  # counters the database path moved since Redis was last used
        self._background: set[asyncio.Task[None]] = set()

    async def _counters(self) -> Counters:
        if self._redis is not None and self._link is not None and self._link.up:
            try:
                if self._touched:
                    await self._redis.forget(list(self._touched.values()))
                    self._touched.clear()
            except Exception as exc:  # noqa: BLE001  # gone again: the database goes on deciding
                self._redis_failed(exc)
            else:
                self._on_redis = True
                return self._redis
        if self._on_redis:
            self._database.refresh()
            self._on_redis = False
        return self._database

    async def _claims(self, budget_refs: list[BudgetRef]) -> list[Claim]:
        now = datetime.now(UTC)
        claims = []
        for ref in budget_refs:
            counted = current_period(ref.budget.window, now)
            earlier = earlier_days(ref.budget.window, counted)
            claims.append(Claim(ref, counted, 0 if earlier is None else await self._earlier(ref, earlier, now)))
        return claims

    async def _earlier(self, ref: BudgetRef, earlier: Period, now: datetime) -> int:
        """What a rolling window's days before today spent, from the ledger: read once a day and budget (those
        days are over), except in the first minute after midnight, while their last rows may still be draining."""
        key = (ref.id, earlier.end)
        found = self._earlier_spent.get(key)
        if found is not None:
            return found
        async with self._engine.connect() as connection:
            spent = await spent_between(connection, ref, earlier)
        if now - earlier.end > _LEDGER_SETTLING:
            if len(self._earlier_spent) >= _MAX_REMEMBERED:
                self._earlier_spent = {k: v for k, v in self._earlier_spent.items() if k[1] >= earlier.end}
            self._earlier_spent[key] = spent
        return spent

    def _moved(self, counters: Counters, claims: list[Claim]) -> None:
        """Remember the counters the database path moves while Redis is configured but away."""
        if counters is self._database and self._redis is not None:
            self._touched.update((c.key, c) for c in claims)

    def _redis_failed(self, exc: Exception) -> None:
        assert self._link is not None
        self._link.failed(exc)

    async def reserve(self, budget_refs: list[BudgetRef], amount_usd: float, webhook: str | None = None,
                      refused_by: tuple[str, audit.Context] | None = None) -> Hold | None:
        """Hold `amount_usd` against every budget, or raise `BudgetExceeded` (recorded in the audit log as
        `refused_by`'s, an actor and its request); None when there is no budget."""
        if not budget_refs:
            return None
        claims = await self._claims(budget_refs)
        amount = max(1, to_nano(amount_usd))
        reservation = f"{random.getrandbits(128):032x}"  # unique, as request ids are (without a system call)
        counters = await self._counters()
        try:
            refusal = await self._reserve(counters, claims, reservation, amount, webhook)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if counters is not self._redis:
                raise
            self._redis_failed(exc)  # Redis went away mid-request: the database decides this one
            counters = await self._counters()
            refusal = await self._reserve(counters, claims, reservation, amount, webhook)
        self._moved(counters, claims)
        if refusal is not None:
            if refused_by is not None:
                self._audit_refusal(refusal, *refused_by)
            raise BudgetExceeded(refusal)
        return Hold(claims, reservation, amount, counters, webhook)

    async def _reserve(self, counters: Counters, claims: list[Claim], reservation: str, amount: int,
                       webhook: str | None) -> Refusal | None:
        """The counters' reserve. A request cancelled meanwhile gives back whatever hold landed: by reservation
        id, which a settle of nothing leaves unchanged. The database's transaction runs to its end first (one cut
        half-way helps no one); Redis's script is atomic on its side, so its call is simply released after."""
        if counters is self._redis:
            try:
                return await counters.reserve(claims, reservation, amount, self._hold_seconds)
            except asyncio.CancelledError:
                self._release_later(Hold(claims, reservation, amount, counters, webhook))
                raise
        task = asyncio.ensure_future(counters.reserve(claims, reservation, amount, self._hold_seconds))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(lambda done: self._orphaned(done, Hold(claims, reservation, amount, counters,
                                                                          webhook)))
            raise

    def _release_later(self, hold: Hold) -> None:
        task = asyncio.create_task(self.settle(hold, 0.0))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _orphaned(self, done: asyncio.Future[Refusal | None], hold: Hold) -> None:
        if not done.cancelled() and done.exception() is None and done.result() is None:
            self._release_later(hold)

    def _audit_refusal(self, refusal: Refusal, actor: str, context: audit.Context) -> None:
        claim = refusal.claim
        details = {"scope": claim.ref.scope, "window": claim.ref.budget.window,
                   "limit_usd": claim.ref.budget.limit_usd, "spent_usd": to_usd(refusal.level.spent_nano),
                   "reserved_usd": to_usd(refusal.level.reserved_nano)}
        self._refusals.refused(claim.ref.org_id, actor, "budget.refuse", context, target=claim.ref.owner,
                               details=details)

    async def settle(self, hold: Hold, actual_usd: float | None) -> None:
        """Replace the hold with what was spent (an unknown cost counts as the whole hold). Never raises: a
        settle that fails leaves the hold to expire, and the spend is in the ledger the counters rebuild from."""
        if hold.settled:
            return
        hold.settled = True
        actual = hold.amount_nano if actual_usd is None else to_nano(actual_usd)
        try:
            after = await hold.counters.settle(hold.claims, hold.reservation, actual)
        except Exception as exc:  # noqa: BLE001
            if hold.counters is self._redis:
                self._redis_failed(exc)
            log.warning("budget settle failed (%s); the hold expires on its own", type(exc).__name__)
            return
        for claim, spent in zip(hold.claims, after, strict=True):
            if spent is not None and actual > 0:
                total = claim.earlier_nano + spent
                self._alerts.spent(claim, total - actual, total, hold.webhook)

    async def charge(self, budget_refs: list[BudgetRef], usd: float) -> None:
        """Count spend that had no hold (a verification call Asahi made for a request): settled as is."""
        if not budget_refs or usd <= 0:
            return
        claims = await self._claims(budget_refs)
        counters = await self._counters()
        self._moved(counters, claims)
        await self.settle(Hold(claims, f"{random.getrandbits(128):032x}", 0, counters, None), usd)

    async def levels(self, budget_refs: list[BudgetRef]) -> list[tuple[Claim, Level]]:
        claims = await self._claims(budget_refs)
        counters = await self._counters()
        try:
            levels = await counters.levels(claims)
        except Exception as exc:
            if counters is not self._redis:
                raise
            self._redis_failed(exc)
            levels = await (await self._counters()).levels(claims)
        return list(zip(claims, levels, strict=True))

    async def drain(self) -> None:
        """Wait for late releases and alerts in flight (tests, shutdown)."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self._alerts.drain()
        await self._refusals.drain()

    async def aclose(self) -> None:
        await self.drain()


def describe(claim: Claim, level: Level) -> dict[str, Any]:
    """A budget as `GET /governance/budgets` shows it."""
    budget = claim.ref.budget
    return {
        "scope": claim.ref.scope, "id": claim.ref.owner, "window": budget.window, "limit_usd": budget.limit_usd,
        "spent_usd": to_usd(claim.earlier_nano + level.spent_nano), "reserved_usd": to_usd(level.reserved_nano),
        "hard": budget.hard, "period_start": claim.window_start.isoformat(), "resets_at": claim.period.end.isoformat(),
    }
