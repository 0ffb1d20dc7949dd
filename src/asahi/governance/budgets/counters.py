"""What both counter stores (Redis, the database) answer: reserve a worst-case amount against several budgets at
once (all or none), settle it to the actual amount, and read the levels.

A reservation is held per budget until its request settles; one whose request died without settling (a killed
process) expires after `ttl` and stops counting, so nothing stays blocked for longer than that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from asahi.governance.budgets.spec import BudgetRef
from asahi.governance.budgets.window import Period, earlier_days, period


@dataclass(frozen=True, slots=True)
class Claim:
    """One budget in its current period; a rolling window's earlier days come with it as `earlier_nano`."""

    ref: BudgetRef
    period: Period
    earlier_nano: int = 0  # spent on the rolling window's days before this period (from the ledger)

    @classmethod
    def of(cls, ref: BudgetRef, now: datetime, earlier_nano: int = 0) -> Claim:
        return cls(ref, current_period(ref.budget.window, now), earlier_nano)

    @property
    def window_start(self) -> datetime:
        """Where the budget's window starts: its period's start, or a rolling window's first day."""
        earlier = earlier_days(self.ref.budget.window, self.period)
        return self.period.start if earlier is None else earlier.start

    @property
    def limit_nano(self) -> int:
        """What this period's counter may reach: the limit less what the window's earlier days spent."""
        return self.ref.limit_nano - self.earlier_nano

    @property
    def key(self) -> str:
        return f"{self.ref.id}:{int(self.period.start.timestamp())}"


_PERIODS: dict[str, Period] = {}


def current_period(window: str, now: datetime) -> Period:
    """`period`, remembered until it ends: every request computes it, and it changes once a day at most."""
    known = _PERIODS.get(window)
    if known is None or not known.start <= now < known.end:
        known = _PERIODS[window] = period(window, now)
    return known


@dataclass(frozen=True, slots=True)
class Level:
    spent_nano: int
    reserved_nano: int


@dataclass(frozen=True, slots=True)
class Refusal:
    """The first hard budget the amount would have taken past its limit."""

    claim: Claim
    level: Level


class Counters(Protocol):
    async def reserve(self, claims: list[Claim], reservation: str, amount_nano: int, ttl: float
                      ) -> Refusal | None:
        """Hold `amount_nano` on every claim, or on none when a hard one would go past its limit."""
        ...

    async def settle(self, claims: list[Claim], reservation: str, actual_nano: int) -> list[int | None]:
        """Drop the hold and add what was really spent; each claim's spend after it (None: not counted here)."""
        ...

    async def levels(self, claims: list[Claim]) -> list[Level]:
        ...
