"""What a budget is: a USD limit per window, hard (refuse before spending past it) or soft (alert, go on); and
whose it is: an org's (from its policy) or one key's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from asahi.governance.budgets.window import parse_window

NANO = 1_000_000_000  # counters hold nano-USD: integers, so adding and comparing them is exact
Scope = Literal["org", "key"]


class Budget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    limit_usd: Annotated[float, Field(gt=0, le=1e9)]
    window: str = "month"
    hard: bool = True

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        return parse_window(value)


def unique_windows(budgets: list[Budget] | None) -> list[Budget] | None:
    """One budget per window and owner: two 'day' budgets would only mean the smaller one."""
    if budgets is not None and len({b.window for b in budgets}) != len(budgets):
        raise ValueError("at most one budget per window")
    return budgets


@dataclass(frozen=True, slots=True)
class BudgetRef:
    """One budget of one owner, as the counters know it."""

    scope: Scope
    owner: str  # the org id or the key id
    org_id: str
    budget: Budget

    @property
    def id(self) -> str:
        return f"{self.scope}:{self.owner}:{self.budget.window}"

    @property
    def limit_nano(self) -> int:
        return to_nano(self.budget.limit_usd)


def to_nano(usd: float) -> int:
    return round(usd * NANO)


def to_usd(nano: int) -> float:
    return round(nano / NANO, 9)
