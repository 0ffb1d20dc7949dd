"""Field types the management API's request bodies share, bounded so that every backend can store what passes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, StringConstraints


def _printable(value: str) -> str:
    # A control character in a name breaks the dashboard's tables and logs, and PostgreSQL refuses NUL outright.
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in value):
        raise ValueError("must not contain control characters")
    return value


def _in_utc_range(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is past the last instant representable in UTC") from None


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                 AfterValidator(_printable)]
Expiry = Annotated[AwareDatetime, AfterValidator(_in_utc_range)]
