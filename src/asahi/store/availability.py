"""Whether the database answers, as every part that reads it on the request path sees it.

A failure that means "the database is unreachable" (refused, timed out, connection lost) is told apart from an
error about the query or its data: the first degrades the gateway (cached keys and policies keep serving, the
rest get 503 with `retry-after`), the second is a bug or bad input. The outage is logged once when it starts and
once when it ends, never per request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError

from asahi.errors import AsahiError

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5
LOOKUP_TIMEOUT = 2.0  # seconds a request-path read may take before the database counts as down
T = TypeVar("T")


class DatabaseUnavailable(AsahiError):
    def __init__(self) -> None:
        super().__init__(503, "database_unavailable", "Asahi's database is unreachable; retry shortly.",
                         headers={"retry-after": str(RETRY_AFTER_SECONDS)})


# PostgreSQL's SQLSTATE classes that mean the server or the link failed: connection exception, insufficient
# resources, operator intervention (shutdown, starting up), system error. Any other class is about the statement.
_OUTAGE_CLASSES = frozenset({"08", "53", "57", "58"})


def _sqlstate(exc: DBAPIError) -> str | None:
    state = getattr(exc.orig, "sqlstate", None)
    return state if isinstance(state, str) and len(state) == 5 else None


def is_bad_value(exc: BaseException) -> bool:
    """The database refused a value the client sent (a NUL character, an integer or a date out of its range)."""
    if isinstance(exc, DataError):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    state = _sqlstate(exc)
    if state is not None:
        return state.startswith("22")  # data exception
    # asyncpg refuses some values before sending them (an integer past int32); its error is a ValueError.
    return isinstance(exc.orig, ValueError) or isinstance(exc.orig.__cause__ if exc.orig else None, ValueError)


def is_outage(exc: BaseException) -> bool:
    """An error that says the database cannot be reached, not that a statement was wrong."""
    if isinstance(exc, IntegrityError | ProgrammingError) or is_bad_value(exc):
        return False
    if isinstance(exc, DBAPIError) and (state := _sqlstate(exc)) is not None:
        return state[:2] in _OUTAGE_CLASSES
    return isinstance(exc, DBAPIError | OSError | TimeoutError | ConnectionError)


class DatabaseState:
    def __init__(self) -> None:
        self.up = True
        self.down_since: float | None = None

    def failed(self, exc: BaseException) -> None:
        if self.up:
            self.up = False
            self.down_since = time.monotonic()
            log.error("database unreachable (%s): serving cached keys and policies, refusing the rest with 503",
                      type(exc).__name__)

    def succeeded(self) -> None:
        if not self.up:
            log.warning("database reachable again after %.1f s", time.monotonic() - (self.down_since or 0))
            self.up = True
            self.down_since = None


async def guarded_read(database: DatabaseState, read: Callable[[], Awaitable[T]]) -> T:
    """A read on the request path (a key, a policy, an org's credentials). An outage or a read past
    LOOKUP_TIMEOUT marks the database down and raises DatabaseUnavailable, which the caller answers from its
    stale cache if it can; an error about the statement itself propagates."""
    try:
        async with asyncio.timeout(LOOKUP_TIMEOUT):
            result = await read()
    except Exception as exc:
        if not is_outage(exc):
            raise
        database.failed(exc)
        raise DatabaseUnavailable() from None
    database.succeeded()
    return result
