"""Budget windows: `day` and `month` (calendar, UTC) and `"<N>d"`, the rolling last N days (today and the N-1
before it, UTC).

Spend is counted per period: a calendar window's period is the window itself, and a new one starts from zero at
`resets_at`. A rolling window counts today in its own period, the day, on top of what the ledger says the N-1
days before it spent (they are over, so that figure no longer changes); at midnight the oldest day drops out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_DAYS = re.compile(r"^([1-9][0-9]{0,2})d$")
MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime  # exclusive: when the budget resets


def parse_window(window: str) -> str:
    """The window as stored, or ValueError naming what is accepted."""
    if window in ("day", "month"):
        return window
    match = _DAYS.match(window)
    if match is None or int(match.group(1)) > MAX_DAYS:
        raise ValueError(f"window must be 'day', 'month' or '<N>d' with N from 1 to {MAX_DAYS}")
    return window


def period(window: str, now: datetime) -> Period:
    """The period `now` is counted in: the month for `month`, else the day."""
    now = now.astimezone(UTC)
    if window == "month":
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
        return Period(start, end)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return Period(start, start + timedelta(days=1))


def earlier_days(window: str, counted: Period) -> Period | None:
    """The part of a rolling window before today's period (None for a calendar window, or `1d`)."""
    if window in ("day", "month") or window == "1d":
        return None
    return Period(counted.start - timedelta(days=int(window[:-1]) - 1), counted.start)
