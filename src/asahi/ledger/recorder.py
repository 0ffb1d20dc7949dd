"""The usage ledger writer: one row per request, batched off the hot path.

Requests only put a row on a bounded queue and move on; one background task writes batches. When the queue is
full the row is dropped and counted (a request never waits on the database). On a clean shutdown the queue is
drained, so no row is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from operator import attrgetter
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.ledger.rows import FIELDS, UsageRow
from asahi.observability.metrics import Metrics
from asahi.store.tables import usage_records

log = logging.getLogger(__name__)


_LIMITS = {"model_requested": 100, "model_used": 100, "provider": 50, "surface": 20, "saving_cause": 20,
           "error_code": 64, "routing_reason": 500}


class _Statement:
    """The ledger's INSERT compiled once for a dialect, with each parameter's bind processor.

    Handing the driver ready tuples skips SQLAlchemy's per-row parameter processing, which cost about 15 µs a row
    on SQLite (5x the driver's own work) and, on the embedded default, ran beside the event loop in the
    driver's thread, competing with requests for the interpreter lock.
    """

    def __init__(self, sql: str, names: tuple[str, ...], processors: tuple[Callable[[Any], Any] | None, ...]) -> None:
        self.sql = sql
        self._values = attrgetter(*names)
        self._clip = [(i, _LIMITS[name]) for i, name in enumerate(names) if name in _LIMITS]
        self._process = [(i, process) for i, process in enumerate(processors) if process is not None]

    def parameters(self, row: UsageRow) -> tuple[object, ...]:
        values = list(self._values(row))
        for i, limit in self._clip:  # a caller-supplied name must never make a row unwritable
            value = values[i]
            if isinstance(value, str) and len(value) > limit:
                values[i] = value[:limit]
        for i, process in self._process:
            if values[i] is not None:
                values[i] = process(values[i])
        return tuple(values)


def _statement(dialect: Dialect) -> _Statement:
    compiled = usage_records.insert().compile(dialect=dialect, column_keys=list(FIELDS))
    # Both supported drivers (aiosqlite, asyncpg; settings accept no other) take positional parameters.
    if not compiled.positiontup:
        raise RuntimeError(f"the {dialect.name} driver takes named parameters; the ledger expects positional ones")
    names = tuple(compiled.positiontup)
    types = (usage_records.c[name].type.dialect_impl(dialect) for name in names)
    return _Statement(str(compiled), names, tuple(t.bind_processor(dialect) for t in types))


class LedgerWriter:
    def __init__(
        self, engine: AsyncEngine, metrics: Metrics, max_queue: int = 50_000, batch_size: int = 500,
        interval: float = 0.25,
    ) -> None:
        self._engine = engine
        self._statement = _statement(engine.dialect)
        self._metrics = metrics
        self._queue: asyncio.Queue[UsageRow] = asyncio.Queue(max_queue)
        self._batch_size = batch_size
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def record(self, row: UsageRow) -> None:
        try:
            self._queue.put_nowait(row)
        except asyncio.QueueFull:
            self._metrics.ledger_dropped.inc()
            log.warning("ledger queue full: usage row dropped")

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            await asyncio.sleep(self._interval)  # let a batch gather
            while len(batch) < self._batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write(batch)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _insert(self, rows: list[UsageRow]) -> None:
        async with self._engine.begin() as connection:
            await connection.exec_driver_sql(self._statement.sql, [self._statement.parameters(r) for r in rows])

    async def _write(self, batch: list[UsageRow]) -> None:
        for attempt in range(3):
            try:
                await self._insert(batch)
                return
            except Exception as exc:  # noqa: BLE001  # keep the writer alive through database hiccups
                log.warning("ledger write failed (attempt %d): %s", attempt + 1, type(exc).__name__)
                await asyncio.sleep(0.5 * (attempt + 1))
        # The batch may hold one row the database refuses: write the rest one by one, so only that one is lost.
        lost = 0
        for row in batch:
            try:
                await self._insert([row])
            except Exception:  # noqa: BLE001
                lost += 1
        if lost:
            self._metrics.ledger_dropped.inc(lost)
            log.error("ledger: %d of %d rows could not be written", lost, len(batch))

    async def flush(self) -> None:
        """Wait until every row queued so far is written (used at shutdown and by tests)."""
        await self._queue.join()

    async def aclose(self) -> None:
        # Drain first: the worker only holds rows it has not yet written while it is writing them.
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
