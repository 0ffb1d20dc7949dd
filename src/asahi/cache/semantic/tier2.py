"""The pipeline's tier 2 step: embed once, look up, serve or verify, and store new answers.

Everything here degrades to "no tier 2" on failure: an embedder or vector store error is logged and counted,
and the request goes on as a miss.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import numpy as np

from asahi.cache import codec
from asahi.cache.semantic.cache import SemanticCache, Tier2Decision, Tier2Unavailable
from asahi.cache.semantic.compare import answers_agree
from asahi.cache.semantic.query import Tier2Query, tier2_query
from asahi.cache.semantic.store import SemanticStore, SemanticSync
from asahi.domain import ChatRequest, ChatResult
from asahi.embeddings.base import Embedder
from asahi.observability.metrics import Metrics

log = logging.getLogger(__name__)
MAX_BACKGROUND = 1000  # stores and labels in flight


@dataclass(slots=True)
class Probe:
    """What tier 2 learned about one request: its query, its embedding (reused by the router), the decision."""

    query: Tier2Query | None
    embedding: np.ndarray | None
    decision: Tier2Decision


class Tier2:
    def __init__(
        self, cache: SemanticCache, embedder: Embedder, store: SemanticStore, sync: SemanticSync, metrics: Metrics,
        max_prompt_chars: int,
    ) -> None:
        self.cache = cache
        self.embedder = embedder
        self.store = store
        self.sync = sync
        self._metrics = metrics
        self._max_chars = max_prompt_chars
        self._background: set[asyncio.Task[None]] = set()

    async def probe(
        self, org_id: str, request: ChatRequest, scope: str, *, read: bool = True, delta: float | None = None
    ) -> Probe:
        """Embed the request once and look it up. `read` False (`no-cache`) embeds without looking up, so the
        answer can still be stored; `delta` is the org's bound on wrong hits (None: the configured default)."""
        query = tier2_query(org_id, request, route=scope, max_chars=self._max_chars)
        if query is None:
            return Probe(None, None, Tier2Decision.miss("skipped"))
        try:
            embedding = (await self.embedder.embed([query.text]))[0]
        except Exception as exc:  # noqa: BLE001  # any embedder failure: go on without tier 2
            self._failed("embed", exc)
            return Probe(None, None, Tier2Decision.miss("embedder failed"))
        if not read:
            return Probe(query, embedding, Tier2Decision.miss("no-cache"))
        try:
            decision = await self.cache.lookup(org_id, query.context_key, query.text, embedding, delta)
        except Tier2Unavailable as exc:
            self._failed("lookup", exc)
            decision = Tier2Decision.miss("vector store failed")
        return Probe(query, embedding, decision)

    @staticmethod
    def answer(decision: Tier2Decision) -> codec.CachedAnswer:
        assert decision.entry is not None
        return codec.decode(decision.entry.payload)

    def served(self, request_id: str, org_id: str, decision: Tier2Decision) -> None:
        """Remember a hit that was served, so feedback on its request id can label it."""
        self.cache.remember_hit(request_id, org_id, decision)

    def after_upstream(self, org_id: str, probe: Probe, result: ChatResult, model: str, store: bool) -> None:
        """Label a verified decision and store the fresh answer, off the request's path. Under a burst of misses
        beyond what storing keeps up with, new answers are skipped rather than queued without bound."""
        if len(self._background) >= MAX_BACKGROUND:
            self._metrics.cache_errors.labels("t2").inc()
            return
        self._spawn(self._after_upstream(org_id, probe, result, model, store))

    async def _after_upstream(self, org_id: str, probe: Probe, result: ChatResult, model: str, store: bool) -> None:
        fresh = result.choices[0].message.text if result.choices else ""
        decision = probe.decision
        try:
            agreed_with = None
            if decision.verify and decision.entry is not None:
                agree = await answers_agree(decision.entry.answer_text, fresh, self.embedder)
                self.cache.record_label(org_id, decision.entry.id, decision.similarity, agree)
                await self.store.save_labels(org_id, decision.entry)
                agreed_with = decision.entry.id if agree else None
            if store and probe.query is not None and probe.embedding is not None:
                # A new entry that duplicates a verified one inherits what that one learned.
                stored = await self.cache.store(
                    org_id, probe.query.context_key, probe.query.text, probe.embedding,
                    codec.encode(codec.CachedAnswer(result)), fresh, same_answer_as=agreed_with,
                )
                await self.store.save(stored.entry, model, stored.evicted)
                await self.sync.announce(stored.entry.id)
        except Exception as exc:  # noqa: BLE001  # storing is best effort; the answer was already served
            self._failed("store", exc)

    async def feedback(self, org_id: str, request_id: str, correct: bool) -> bool:
        known = self.cache.record_feedback(org_id, request_id, correct)
        if known:
            entry_id = self.cache.feedback_entry(request_id)
            entry = self.cache.entry(org_id, entry_id) if entry_id else None
            await self.store.save_labels(org_id, entry)
        return known

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _failed(self, step: str, exc: Exception) -> None:
        self._metrics.cache_errors.labels("t2").inc()
        # The type only: an error's text can quote what it was given, and prompts never go into logs.
        log.warning("tier 2 %s failed, going on without it: %s", step, type(exc).__name__)

    async def drain(self) -> None:
        """Wait for background labelling and storing (shutdown, tests)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def aclose(self) -> None:
        await self.drain()
        await self.sync.aclose()
        await self.embedder.aclose()
