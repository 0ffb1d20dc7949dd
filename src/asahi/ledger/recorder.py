"""The ledger writer: a row is spooled to local disk before its answer completes, then drained to the database.

A request only appends its row to the spool (one `write` system call, no database, no waiting); a background
task drains the spool in batches. When the database is down the drainer keeps the rows and retries with backoff
for as long as it takes; nothing is dropped. A row the database refuses for its content (not for an outage) is set
aside in `rejected.rows` beside the spool, logged and counted, so one bad row never blocks the rest.

Guarantee: a row whose answer was sent survives the process being killed; on power loss at most the last
`sync_interval` of rows can be lost (see README, "Durability").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.ledger.rows import UsageRow
from asahi.ledger.spool import Reader, Slot, Spool, SpooledRow, claim_slots, sync
from asahi.ledger.statement import LedgerInsert
from asahi.observability.metrics import Metrics

log = logging.getLogger(__name__)
MAX_BACKOFF = 5.0
SHUTDOWN_DRAIN_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class SpoolSettings:
    directory: Path
    segment_bytes: int = 8 << 20
    max_bytes: int = 1 << 30
    sync_interval: float = 0.05  # seconds between fsyncs: the most a power loss can take
    batch_size: int = 500


class LedgerWriter:
    def __init__(self, engine: AsyncEngine, metrics: Metrics, spool: SpoolSettings) -> None:
        self._engine = engine
        self._insert = LedgerInsert(engine.dialect)
        self._metrics = metrics
        self._settings = spool
        self._spool: Spool | None = None
        self._orphans: list[Slot] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.database_up = True
        self.rejected = 0

    async def start(self) -> None:
        own, self._orphans = claim_slots(self._settings.directory)
        self._spool = Spool(own, segment_bytes=self._settings.segment_bytes, max_bytes=self._settings.max_bytes)
        if self._orphans:
            log.info("ledger: adopting %d spool slot(s) left by stopped processes", len(self._orphans))
        self._tasks = [asyncio.create_task(self._drain()), asyncio.create_task(self._sync())]

    @property
    def spool(self) -> Spool:
        assert self._spool is not None, "the ledger writer was not started"
        return self._spool

    def record(self, row: UsageRow) -> None:
        """Durable against a crash when this returns; the database sees it within a batch interval."""
        self.spool.append(orjson.dumps(row))
        self._metrics.ledger_spooled.set(self.spool.pending_bytes)
        self._wake.set()

    @property
    def accepting(self) -> bool:
        """False when the spool is at its bound: new requests are refused rather than left unrecorded."""
        return not self.spool.full

    def state(self) -> dict[str, Any]:
        oldest = self.spool.oldest_unsaved
        return {
            "status": "ok" if self.database_up and not self.spool.full else "degraded",
            "spooled_bytes": self.spool.pending_bytes,
            "oldest_unsaved_seconds": None if oldest is None else round(time.monotonic() - oldest, 3),
            "rejected_rows": self.rejected,
        }

    async def _sync(self) -> None:
        while True:
            await asyncio.sleep(self._settings.sync_interval)
            work = self.spool.take_sync_work()
            if work:
                await asyncio.to_thread(sync, work)

    async def _drain(self) -> None:
        for orphan in self._orphans:
            await self._drain_slot(orphan, Reader(orphan), None)
            orphan.remove()
        self._orphans = []
        await self._drain_slot(self.spool.slot, Reader(self.spool.slot), self.spool)

    async def _drain_slot(self, slot: Slot, reader: Reader, spool: Spool | None) -> None:
        """Drain `slot` to the database: until it is empty for an adopted orphan, forever for the own spool."""
        backoff = 0.1
        while True:
            rows = reader.read(self._settings.batch_size, None if spool is None else spool.writing)
            if not rows:
                if spool is None:
                    return
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 0.25)
                continue
            try:
                await self._write(rows, slot)
            except Exception as exc:  # noqa: BLE001  # an outage: keep every row and try again
                reader.rewind(slot.checkpoint)
                self._outage(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = 0.1
            if not self.database_up:
                self.database_up = True
                log.warning("ledger: the database is back; spooled rows are being written")
            size = sum(len(r.line) + 1 for r in rows)
            if spool is not None:
                spool.drained(rows[-1].end, size)
                self._metrics.ledger_spooled.set(spool.pending_bytes)
            else:
                slot.save_checkpoint(rows[-1].end)

    def _outage(self, exc: Exception) -> None:
        if self.database_up:
            self.database_up = False
            # Once per outage, not per retry; the type only, so no row content reaches the log.
            log.error("ledger: database write failed (%s); rows stay in the spool until it is back",
                      type(exc).__name__)

    async def _write(self, rows: list[SpooledRow], slot: Slot) -> None:
        decoded: list[tuple[SpooledRow, tuple[object, ...] | None]] = []
        for row in rows:
            try:
                decoded.append((row, self._insert.parameters(orjson.loads(row.line))))
            except (ValueError, KeyError, TypeError):
                decoded.append((row, None))
        good = [params for _, params in decoded if params is not None]
        try:
            await self._execute(good)
        except (IntegrityError, DataError):
            # One row the database refuses for what it holds: write the rest one by one, set it aside.
            for row, params in decoded:
                if params is None:
                    continue
                try:
                    await self._execute([params])
                except (IntegrityError, DataError):
                    self._reject(row, slot)
        for row, params in decoded:
            if params is None:
                self._reject(row, slot)

    async def _execute(self, parameters: list[tuple[object, ...]]) -> None:
        if not parameters:
            return
        async with self._engine.begin() as connection:
            await connection.exec_driver_sql(self._insert.sql, parameters)

    def _reject(self, row: SpooledRow, slot: Slot) -> None:
        self.rejected += 1
        self._metrics.ledger_rejected.inc()
        with (slot.path.parent / "rejected.rows").open("ab") as handle:
            handle.write(row.line + b"\n")
        log.error("ledger: a row the database refuses was set aside in rejected.rows")

    async def flush(self) -> None:
        """Wait until every row spooled so far is in the database (tests, and shutdown while it is up); bound it
        with `asyncio.timeout`."""
        while self.spool.pending_bytes or self._orphans:
            self._wake.set()
            await asyncio.sleep(0.01)

    async def aclose(self) -> None:
        """Drain what the database takes within a few seconds; whatever is left stays spooled for the next start."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SHUTDOWN_DRAIN_SECONDS):
                await self.flush()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._spool is not None:
            self._spool.close()
