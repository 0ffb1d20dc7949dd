"""Tier 2, the semantic cache: serve an earlier answer to a request that means the same, with a bounded error.

The pipeline calls, per request that `tier2_query` accepts:
    decision = await cache.lookup(org_id, q.context_key, q.text, embedding)
    - decision.hit: serve decision.entry's answer.
    - decision.verify: call upstream as for a miss, serve the fresh answer, then
      `cache.record_label(org_id, decision.entry.id, decision.similarity, await answers_agree(cached, fresh))`.
      This is how the policy learns; on a would-be miss it costs no extra provider call.
    - neither: a plain miss.
    After an upstream answer: `await cache.store(..., same_answer_as=decision.entry.id if it agreed else None)`.
With a `Confirmation` (the local two-stage pair), `embedding` is the static vector the index searches, and the
policy decides on MiniLM similarities computed only for candidates close enough (`confirm.py`).
A failing vector store raises `Tier2Unavailable` from `lookup`/`store`/`remove` (embedders raise
`EmbeddingError`): the caller logs it and goes on uncached; tier 2 never fails a request.
"""

from __future__ import annotations

import random
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from asahi.cache.semantic.confirm import Confirmation
from asahi.cache.semantic.policy import EntryState, OrgModel
from asahi.cache.semantic.vetoes import DEFAULT_VETOES, vetoed
from asahi.cache.vectors.base import Vector, VectorIndex, VectorRecord, VectorStoreError

EXPLORE_FLOOR = 0.5  # below this cosine a candidate is not worth labelling: it is never a duplicate
SEARCH_K = 5
CONFIRM_K = 10  # the static ranking is looser than MiniLM's: confirm among more of its nearest
FEEDBACK_MEMORY = 100_000  # hits remembered for `record_feedback` by request id


class Tier2Unavailable(Exception):
    """The vector store failed; the request should go on as a tier 2 miss."""


@dataclass(slots=True)
class SemanticEntry:
    """A cached answer with what tier 2 learned about it. The lead persists it (`to_json`) and reloads it."""

    id: str
    org_id: str
    context_key: str
    text: str  # the last user message it answered
    vector: Vector
    payload: bytes  # the serialised answer, opaque here
    answer_text: str  # the answer's text, for comparing with a fresh answer
    created_at: float
    state: EntryState = field(default_factory=EntryState)
    confirm_vector: Vector | None = None  # the confirming model's vector of `text`, once a lookup needed it

    @property
    def size_bytes(self) -> int:
        return self.vector.nbytes + len(self.payload) + len(self.text.encode()) + len(self.answer_text.encode())

    def to_json(self) -> dict[str, Any]:
        """Everything but the vector and payload, which the store keeps in binary columns."""
        return {"id": self.id, "org_id": self.org_id, "context_key": self.context_key, "text": self.text,
                "answer_text": self.answer_text, "created_at": self.created_at, "state": self.state.to_json()}


@dataclass(slots=True, frozen=True)
class Tier2Decision:
    hit: bool
    verify: bool
    entry: SemanticEntry | None = None
    similarity: float = 0.0  # the confirmed similarity when a confirmation ran
    reason: str = "miss"  # hit | sampled (a confident hit checked upstream) | explore | vetoed:<name> | miss
    confirmed: Vector | None = None  # the prompt's vector from the confirming model, when it ran

    @classmethod
    def miss(cls, reason: str = "miss") -> Tier2Decision:
        return cls(False, False, reason=reason)


@dataclass(slots=True, frozen=True)
class Stored:
    entry: SemanticEntry
    evicted: list[str]  # ids the index dropped to stay in bounds; the lead deletes their persisted rows


class SemanticCache:
    """The tier 2 policy over any `VectorIndex`; one instance per process, all orgs."""

    def __init__(
        self,
        index: VectorIndex,
        *,
        delta: float = 0.02,
        verify_sample_rate: float = 0.05,
        vetoes: tuple[str, ...] = DEFAULT_VETOES,
        k: int | None = None,
        rng: random.Random | None = None,
        confirmation: Confirmation | None = None,
    ) -> None:
        self.index = index
        self.confirmation = confirmation
        self.default_delta = delta
        self.verify_sample_rate = verify_sample_rate
        self.vetoes = vetoes
        self.k = k or (SEARCH_K if confirmation is None else CONFIRM_K)
        self._rng = rng or random.Random()
        self._entries: dict[str, dict[str, SemanticEntry]] = {}
        self._models: dict[str, OrgModel] = {}
        self._hits: OrderedDict[str, tuple[str, str, float]] = OrderedDict()

    def model(self, org_id: str) -> OrgModel:
        model = self._models.get(org_id)
        if model is None:
            model = self._models[org_id] = OrgModel()
        return model

    async def lookup(
        self, org_id: str, context_key: str, text: str, embedding: Vector, delta: float | None = None
    ) -> Tier2Decision:
        """`delta`: the org's bound on wrong hits per lookup (its policy's), else the configured default."""
        delta = self.default_delta if delta is None else delta
        try:
            matches = await self.index.search(org_id, embedding, self.k, context_key)
        except VectorStoreError as exc:
            raise Tier2Unavailable(str(exc)) from exc
        entries = self._entries.get(org_id, {})
        model = self.model(org_id)
        model.count_lookup()
        candidates: list[tuple[SemanticEntry, float]] = []
        veto: str | None = None
        for match in matches:
            entry = entries.get(match.id)
            # The index is scoped already; checking again costs nothing and guards against a faulty backend.
            if entry is None or entry.org_id != org_id or entry.context_key != context_key:
                continue
            fired = vetoed(text, entry.text, self.vetoes)
            if fired:
                veto = veto or fired
                continue
            candidates.append((entry, match.score))
        if self.confirmation is None or not candidates:
            return self._decide(model, candidates, delta, veto)
        confirmed = await self.confirmation.confirm(text, candidates, model.lowest_servable(delta))
        if confirmed is None:
            return self._decide(model, [], delta, veto)
        close = [(entry, s) for (entry, _), s in zip(candidates, confirmed.similarities, strict=True) if s is not None]
        return replace(self._decide(model, close, delta, veto), confirmed=confirmed.vector)

    def _decide(self, model: OrgModel, candidates: list[tuple[SemanticEntry, float]], delta: float,
                veto: str | None) -> Tier2Decision:
        best: tuple[float, SemanticEntry, float] | None = None  # (lower bound, entry, similarity)
        explore: tuple[SemanticEntry, float] | None = None
        for entry, similarity in candidates:
            _, lower = model.correct_probability(similarity, entry.state)
            if best is None or lower > best[0]:
                best = (lower, entry, similarity)
            if similarity >= EXPLORE_FLOOR and (explore is None or similarity > explore[1]):
                explore = (entry, similarity)
        if best is not None:
            lower, entry, similarity = best
            error = model.error(1 - lower)
            model.offer(error)
            if model.affordable(error, delta):
                if self._rng.random() < self.verify_sample_rate:
                    return Tier2Decision(False, True, entry, similarity, "sampled")
                model.charge(error)
                return Tier2Decision(True, False, entry, similarity, "hit")
        if explore is not None:
            return Tier2Decision(False, True, explore[0], explore[1], "explore")
        return Tier2Decision.miss(f"vetoed:{veto}" if veto else "miss")

    async def store(
        self,
        org_id: str,
        context_key: str,
        text: str,
        embedding: Vector,
        payload: bytes,
        answer_text: str,
        *,
        entry_id: str | None = None,
        created_at: float | None = None,
        same_answer_as: str | None = None,
        confirm_vector: Vector | None = None,
    ) -> Stored:
        """Cache an upstream answer. `same_answer_as`: the entry this answer was just verified to agree with;
        the new entry then starts from that entry's labels, since the two share one decision boundary.
        `confirm_vector`: the prompt's vector from the confirming model, when its lookup computed one."""
        state = EntryState()
        twin = self.entry(org_id, same_answer_as) if same_answer_as else None
        if twin is not None:
            state.labels.extend(twin.state.labels)
        entry = SemanticEntry(entry_id or uuid.uuid4().hex, org_id, context_key, text, embedding, payload,
                              answer_text, time.time() if created_at is None else created_at, state, confirm_vector)
        return Stored(entry, await self.adopt(entry))

    async def adopt(self, entry: SemanticEntry, *, made_here: bool = True) -> list[str]:
        """Add an entry (one made elsewhere: another instance's broadcast); returns the evicted ids. An entry
        made elsewhere is already in a shared index, so only this instance's view of it is added."""
        evicted: list[str] = []
        if made_here or not self.index.shared:
            record = VectorRecord(entry.id, entry.org_id, entry.context_key, entry.vector, entry.created_at,
                                  entry.size_bytes)
            try:
                evicted = await self.index.add(record)
            except VectorStoreError as exc:
                raise Tier2Unavailable(str(exc)) from exc
        self._entries.setdefault(entry.org_id, {})[entry.id] = entry
        self._forget(entry.org_id, evicted)
        return evicted

    async def load(self, entries: Iterable[SemanticEntry]) -> list[str]:
        """Bulk load persisted entries at start-up (their learned state included); returns the evicted ids."""
        entries = list(entries)
        for entry in entries:
            self._entries.setdefault(entry.org_id, {})[entry.id] = entry
        if self.index.shared:  # already holds every persisted entry
            return []
        records = [VectorRecord(e.id, e.org_id, e.context_key, e.vector, e.created_at, e.size_bytes)
                   for e in entries]
        try:
            evicted = await self.index.load(records)
        except VectorStoreError as exc:
            raise Tier2Unavailable(str(exc)) from exc
        gone = set(evicted)
        for entry in entries:
            if entry.id in gone:
                self._entries[entry.org_id].pop(entry.id, None)
        return evicted

    async def remove(self, org_id: str, ids: list[str]) -> None:
        try:
            await self.index.remove(org_id, ids)
        except VectorStoreError as exc:
            raise Tier2Unavailable(str(exc)) from exc
        self._forget(org_id, ids)

    def _forget(self, org_id: str, ids: list[str]) -> None:
        """Drop entries the index no longer holds: mostly `org_id`'s, but the bound across orgs may have evicted
        another org's (ids are unique across orgs)."""
        entries = self._entries.get(org_id, {})
        for id_ in ids:
            if entries.pop(id_, None) is None:
                for other in self._entries.values():
                    if other.pop(id_, None) is not None:
                        break

    def created_before(self, cutoff: float) -> dict[str, list[str]]:
        """Per org, the ids of entries created before `cutoff` (epoch seconds): what the TTL has expired."""
        return {org: ids for org, entries in self._entries.items()
                if (ids := [e.id for e in entries.values() if e.created_at < cutoff])}

    def entry(self, org_id: str, entry_id: str) -> SemanticEntry | None:
        return self._entries.get(org_id, {}).get(entry_id)

    def record_label(self, org_id: str, entry_id: str, similarity: float, correct: bool) -> None:
        """A label for serving `entry_id` at `similarity`: from verification or from user feedback."""
        model = self.model(org_id)
        entry = self.entry(org_id, entry_id)
        _, lower = model.correct_probability(similarity, entry.state if entry is not None else EntryState())
        model.check(1 - lower, correct)  # before the label moves the estimate
        model.add(similarity, correct)
        if entry is not None:
            entry.state.add(similarity, correct)

    def remember_hit(self, request_id: str, org_id: str, decision: Tier2Decision) -> None:
        """Keep a served hit so that feedback on its request id can label it later."""
        if decision.hit and decision.entry is not None:
            self._hits[request_id] = (org_id, decision.entry.id, decision.similarity)
            if len(self._hits) > FEEDBACK_MEMORY:
                self._hits.popitem(last=False)

    def record_feedback(self, org_id: str, request_id: str, correct: bool) -> bool:
        """Feedback {request_id, correct} on a served hit; False when the request is unknown or another org's."""
        known = self._hits.get(request_id)
        if known is None or known[0] != org_id:
            return False
        self.record_label(org_id, known[1], known[2], correct)
        return True

    def feedback_entry(self, request_id: str) -> str | None:
        """The entry a remembered hit served, so the caller can persist its new labels."""
        known = self._hits.get(request_id)
        return known[1] if known else None

    def org_state(self, org_id: str) -> dict[str, Any]:
        """The org's learned model, to persist next to its entries."""
        return self.model(org_id).to_json()

    def load_org_state(self, org_id: str, state: dict[str, Any]) -> None:
        self._models[org_id] = OrgModel.from_json(state)
