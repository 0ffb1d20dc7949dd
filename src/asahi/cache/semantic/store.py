"""Tier 2 persistence and sharing: entries live in the database, so the index survives a restart and every
instance serves what another stored.

An instance that stores an entry announces its id on a Redis channel; the others read the row and adopt it, so
it is served everywhere within a moment. Without Redis, instances poll the table every second instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.cache.semantic.cache import SemanticCache, SemanticEntry, Tier2Unavailable
from asahi.cache.semantic.policy import EntryState
from asahi.redis_client import RedisLink, Subscription
from asahi.store.tables import semantic_entries, semantic_org_models

log = logging.getLogger(__name__)
CHANNEL = "asahi:t2:added"
POLL_SECONDS = 1.0
PRUNE_SECONDS = 60.0


class SemanticStore:
    def __init__(self, engine: AsyncEngine, cache: SemanticCache, embedder: str, ttl_seconds: int) -> None:
        self._engine = engine
        self._cache = cache
        self._embedder = embedder
        self._ttl = ttl_seconds
        self._seen: set[str] = set()
        self._watermark = datetime.now(UTC)
        self._pending: list[tuple[dict[str, Any], list[str], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    def _entry(self, row: Row[tuple[object, ...]]) -> SemanticEntry:
        m = row._mapping
        meta = m["state"] or {}
        created = m["created_at"] if m["created_at"].tzinfo else m["created_at"].replace(tzinfo=UTC)
        return SemanticEntry(
            id=m["id"], org_id=m["org_id"], context_key=m["context_key"], text=m["prompt"],
            vector=np.frombuffer(m["vector"], dtype=np.float32).copy(), payload=m["response"],
            answer_text=meta.get("answer_text", ""), created_at=created.timestamp(),
            state=EntryState.from_json(meta.get("state")),
            confirm_vector=None if m["confirm_vector"] is None
            else np.frombuffer(m["confirm_vector"], dtype=np.float32).copy(),
        )

    def _live(self) -> ColumnElement[bool]:
        now = datetime.now(UTC)
        return (semantic_entries.c.embedder == self._embedder) & (
            semantic_entries.c.expires_at.is_(None) | (semantic_entries.c.expires_at > now)
        )

    async def load(self) -> int:
        """Bring every live entry and org model of the active embedder into the cache (at start-up)."""
        async with self._engine.connect() as connection:
            rows = (await connection.execute(
                select(semantic_entries).where(self._live()).order_by(semantic_entries.c.created_at)
            )).all()
            models = (await connection.execute(
                select(semantic_org_models).where(semantic_org_models.c.embedder == self._embedder)
            )).all()
        entries = [self._entry(row) for row in rows]
        self._seen.update(e.id for e in entries)
        evicted = await self._cache.load(entries)
        for model in models:
            self._cache.load_org_state(model._mapping["org_id"], model._mapping["state"])
        if evicted:
            await self.delete(evicted)
        return len(entries) - len(evicted)

    async def save(self, entry: SemanticEntry, model: str, evicted: list[str]) -> None:
        """Persist a new entry (and forget the ones it evicted); returns once committed, so it can be announced.
        Saves that arrive while a transaction is in flight share the next one: one commit per burst, not one per
        miss, which was a miss's largest step of Asahi's own (docs/benchmarks.md)."""
        now = datetime.now(UTC)
        self._seen.add(entry.id)
        row = {
            "id": entry.id, "org_id": entry.org_id, "context_key": entry.context_key, "embedder": self._embedder,
            "vector": entry.vector.astype(np.float32).tobytes(), "prompt": entry.text, "response": entry.payload,
            "confirm_vector": None if entry.confirm_vector is None
            else entry.confirm_vector.astype(np.float32).tobytes(),
            "model": model, "state": {"answer_text": entry.answer_text, "state": entry.state.to_json()},
            "created_at": now, "expires_at": now + timedelta(seconds=self._ttl),
        }
        committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((row, evicted, committed))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending())
        await asyncio.shield(committed)

    async def _write_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            evicted = [entry_id for _, ids, _ in batch for entry_id in ids]
            try:
                async with self._engine.begin() as connection:
                    await connection.execute(semantic_entries.insert(), [row for row, _, _ in batch])
                    if evicted:
                        await connection.execute(delete(semantic_entries).where(semantic_entries.c.id.in_(evicted)))
            except Exception as exc:  # noqa: BLE001  # each waiting save reports it; storing is best effort
                for _, _, committed in batch:
                    if not committed.done():
                        committed.set_exception(exc)
                continue
            for _, _, committed in batch:
                if not committed.done():
                    committed.set_result(None)

    async def delete(self, ids: list[str]) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(delete(semantic_entries).where(semantic_entries.c.id.in_(ids)))

    async def save_labels(self, org_id: str, entry: SemanticEntry | None) -> None:
        """Persist what a new label taught: the entry's state and the org's model."""
        now = datetime.now(UTC)
        async with self._engine.begin() as connection:
            if entry is not None:
                await connection.execute(update(semantic_entries).where(semantic_entries.c.id == entry.id).values(
                    state={"answer_text": entry.answer_text, "state": entry.state.to_json()}))
            state = self._cache.org_state(org_id)
            changed = await connection.execute(update(semantic_org_models).where(
                semantic_org_models.c.org_id == org_id).values(state=state, embedder=self._embedder, updated_at=now))
            if changed.rowcount == 0:
                await connection.execute(semantic_org_models.insert().values(
                    org_id=org_id, embedder=self._embedder, state=state, updated_at=now))

    async def adopt(self, entry_id: str) -> bool:
        """Serve an entry another instance stored."""
        if entry_id in self._seen:
            return False
        async with self._engine.connect() as connection:
            row = (await connection.execute(
                select(semantic_entries).where(semantic_entries.c.id == entry_id, self._live())
            )).first()
        if row is None:
            return False
        self._seen.add(entry_id)
        await self._cache.adopt(self._entry(row), made_here=False)
        return True

    async def poll(self) -> int:
        """Adopt entries stored elsewhere since the last poll (when there is no Redis to announce them)."""
        since = self._watermark - timedelta(seconds=5)  # clocks and commit order are not exact
        self._watermark = datetime.now(UTC)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(
                select(semantic_entries).where(self._live(), semantic_entries.c.created_at >= since)
            )).all()
        adopted = 0
        for row in rows:
            if row._mapping["id"] not in self._seen:
                self._seen.add(row._mapping["id"])
                await self._cache.adopt(self._entry(row), made_here=False)
                adopted += 1
        return adopted


    async def prune(self) -> int:
        """Forget what the TTL has expired, in memory, in the index and in the database."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self._ttl)
        expired = self._cache.created_before(cutoff.timestamp())
        for org_id, ids in expired.items():
            await self._cache.remove(org_id, ids)
            self._seen.difference_update(ids)
        async with self._engine.begin() as connection:
            await connection.execute(delete(semantic_entries).where(
                semantic_entries.c.expires_at.is_not(None), semantic_entries.c.expires_at <= datetime.now(UTC)))
        return sum(len(ids) for ids in expired.values())


class SemanticSync:
    """Announces new entries and adopts others' (Redis pub/sub, or polling without Redis)."""

    def __init__(self, store: SemanticStore, link: RedisLink | None, poll: bool) -> None:
        self._store = store
        self._link = link
        self._poll = poll
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._pruner: asyncio.Task[None] | None = None

    async def announce(self, entry_id: str) -> None:
        link = self._link
        if link is None or link.client is None or not link.up:
            return
        try:
            await link.client.publish(CHANNEL, entry_id)
        except Exception as exc:  # noqa: BLE001  # others catch up when they resubscribe or poll
            link.failed(exc)

    async def start(self) -> None:
        if self._link is not None and self._link.configured:
            # Catch up on what was announced while not subscribed, every time the subscription is made.
            self._subscription = Subscription(self._link, CHANNEL, self._store.adopt, self._store.poll)
            self._subscription.start()
        elif self._poll:
            self._task = asyncio.create_task(self._polling())
        self._pruner = asyncio.create_task(self._pruning())

    async def _pruning(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_SECONDS)
            try:
                await self._store.prune()
            except (Exception, Tier2Unavailable) as exc:  # noqa: BLE001  # retried at the next round
                log.warning("tier 2 prune failed: %s", type(exc).__name__)

    async def _polling(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            try:
                await self._store.poll()
            except Exception as exc:  # noqa: BLE001  # a database hiccup only delays sharing
                log.warning("tier 2 poll failed: %s", type(exc).__name__)

    async def aclose(self) -> None:
        if self._subscription is not None:
            await self._subscription.aclose()
        for task in (self._task, self._pruner):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
