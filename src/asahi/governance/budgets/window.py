"""Budget windows: `day` and `month` (calendar, UTC) and `"<N>d"` (consecutive periods of N days counted from
1970-01-01 UTC, so every instance agrees on where a period starts without storing anything).

A budget's spend is counted per period: a new period starts from zero, and `resets_at` is where the current one
ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_DAYS = re.compile(r"^([1-9][0-9]{0,2})d$")
MAX_DAYS = 366
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
    now = now.astimezone(UTC)
    if window == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return Period(start, start + timedelta(days=1))
    if window == "month":
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
        return Period(start, end)
    days = int(window[:-1])
    number = (now - _EPOCH).days // days
    start = _EPOCH + timedelta(days=number * days)
    return Period(start, start + timedelta(days=days))
