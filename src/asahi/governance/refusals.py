"""Refusals in the audit log (an exhausted budget, a suspended org), written off the request path.

The refused request does not wait for its audit row. A suspended org's clients may keep retrying, so its refusals
are recorded once per key and minute; a budget refusal is recorded each time (holds come and go, so each one can
tell a different story).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.governance import audit

log = logging.getLogger(__name__)
_MAX_REMEMBERED = 10_000


class RefusalLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._tasks: set[asyncio.Task[None]] = set()
        self._last: dict[tuple[str, str], float] = {}  # (actor, action) -> when last recorded

    def refused(self, org_id: str, actor: str, action: str, context: audit.Context, *, target: str | None = None,
                details: dict[str, Any] | None = None, once_per: float = 0.0) -> None:
        now = time.monotonic()
        if once_per:
            last = self._last.get((actor, action))
            if last is not None and now - last < once_per:
                return
            if len(self._last) >= _MAX_REMEMBERED:
                self._last.clear()
            self._last[(actor, action)] = now
        task = asyncio.create_task(self._write(org_id, actor, action, target, details, context))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write(self, org_id: str, actor: str, action: str, target: str | None, details: dict[str, Any] | None,
                     context: audit.Context) -> None:
        try:
            async with self._engine.begin() as connection:
                await audit.record(connection, org_id=org_id, actor=actor, action=action, target=target,
                                   details=details, context=context)
        except Exception as exc:  # noqa: BLE001  # the refusal stands; only its audit row is missing
            log.warning("could not audit a refusal (%s): %s", action, type(exc).__name__)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
