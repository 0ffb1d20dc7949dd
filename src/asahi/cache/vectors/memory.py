"""In-process vector index: one partition per org, bounded by entries and bytes, oldest-used evicted first.

Inside an org, entries are grouped by filter key (the request's context key), because a search may only look at
entries whose context matched exactly: a group is scanned exactly with numpy while small, and gets a faiss HNSW
graph once it passes HNSW_MIN entries (see docs/benchmarks.md, "Tier 2"). The graph is built a slice at a time
on later calls so no single call pays the whole build; removals are tombstoned and the graph is rebuilt when
tombstones pile up. Every operation runs in a worker thread under one lock, so the event loop never waits on a
scan or a graph insertion.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from asahi.cache.vectors.base import Vector, VectorMatch, VectorRecord

HNSW_MIN = 10_000  # exact scan ~0.14 µs per entry vs HNSW ~0.7 ms flat (bench/semantic_speed.py)
T = TypeVar("T")
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 64
BUILD_SLICE = 32  # graph insertions (~0.5 ms each) done per call while a graph catches up with its group


@dataclass(slots=True)
class _Group:
    """The vectors of one (org, filter key), packed in a growable matrix; row order is arbitrary."""

    dimension: int
    matrix: Vector = field(init=False)
    ids: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    graph: Any = None  # faiss.IndexHNSWFlat, imported only once a group is large enough to need one
    graph_ids: list[str] = field(default_factory=list)  # faiss label -> id
    graph_labels: dict[str, int] = field(default_factory=dict)
    tombstones: set[int] = field(default_factory=set)
    unindexed: dict[str, None] = field(default_factory=dict)  # ids not yet in the graph, oldest first

    def __post_init__(self) -> None:
        self.matrix = np.empty((16, self.dimension), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def put(self, id_: str, vector: Vector) -> None:
        row = self.rows.get(id_)
        if row is None:
            row = len(self.ids)
            if row == len(self.matrix):
                grown = np.empty((2 * row, self.dimension), dtype=np.float32)
                grown[:row] = self.matrix
                self.matrix = grown
            self.ids.append(id_)
            self.rows[id_] = row
        elif id_ in self.graph_labels:
            self.tombstones.add(self.graph_labels.pop(id_))
        self.matrix[row] = vector
        if self.graph is not None:
            self.unindexed[id_] = None

    def drop(self, id_: str) -> None:
        row = self.rows.pop(id_)
        last = len(self.ids) - 1
        if row != last:  # move the last row into the hole so the matrix stays dense
            moved = self.ids[last]
            self.matrix[row] = self.matrix[last]
            self.ids[row] = moved
            self.rows[moved] = row
        self.ids.pop()
        self.unindexed.pop(id_, None)
        label = self.graph_labels.pop(id_, None)
        if label is not None:
            self.tombstones.add(label)

    def maintain_graph(self, budget: int | None = None) -> None:
        """Start, extend or rebuild the HNSW graph; at most `budget` insertions (BUILD_SLICE by default)."""
        if len(self.ids) < HNSW_MIN:
            self.graph = None
            self.graph_ids, self.graph_labels, self.tombstones, self.unindexed = [], {}, set(), {}
            return
        if self.graph is None or len(self.tombstones) > len(self.ids) // 4:
            import faiss  # ~30 MB: loaded by the first group that outgrows an exact scan

            self.graph = faiss.IndexHNSWFlat(self.dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            self.graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            self.graph.hnsw.efSearch = HNSW_EF_SEARCH
            self.graph_ids, self.graph_labels, self.tombstones = [], {}, set()
            self.unindexed = dict.fromkeys(self.ids)
        pending = list(itertools.islice(self.unindexed, BUILD_SLICE if budget is None else budget))
        if pending:
            self.graph.add(self.matrix[[self.rows[i] for i in pending]])
            for id_ in pending:
                del self.unindexed[id_]
                self.graph_labels[id_] = len(self.graph_ids)
                self.graph_ids.append(id_)

    def search(self, query: Vector, k: int) -> list[tuple[str, float]]:
        n = len(self.ids)
        if n == 0:
            return []
        graph_ready = self.graph is not None and len(self.graph_labels) == n
        if graph_ready and self.graph is not None:
            want = min(2 * k + 8, len(self.graph_ids))  # a few spare for tombstoned labels
            scores, labels = self.graph.search(query[None, :], want)
            found = [(self.graph_ids[lab], float(s)) for s, lab in zip(scores[0], labels[0], strict=True)
                     if lab >= 0 and lab not in self.tombstones]
            if len(found) >= min(k, n):
                return found[:k]
        scores = self.matrix[:n] @ query
        top = np.argpartition(-scores, k - 1)[:k] if n > k else np.arange(n)
        top = top[np.argsort(-scores[top])]
        return [(self.ids[i], float(scores[i])) for i in top]


@dataclass(slots=True)
class _Meta:
    filter_key: str
    created_at: float
    size_bytes: int


@dataclass(slots=True)
class _Partition:
    groups: dict[str, _Group] = field(default_factory=dict)
    # id -> meta, in least-recently-used first order: a search hit moves an entry to the end.
    meta: OrderedDict[str, _Meta] = field(default_factory=OrderedDict)
    bytes: int = 0


class MemoryVectorIndex:
    """The embedded default. Lost on restart: the lead's store reloads it with `load` at start-up."""

    name = "memory"
    shared = False

    def __init__(
        self,
        dimension: int,
        *,
        max_entries_per_org: int = 100_000,
        max_bytes_per_org: int = 512 * 1024 * 1024,
        max_entries_total: int | None = None,
        ttl_seconds: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.dimension = dimension
        self.max_entries = max_entries_per_org
        self.max_bytes = max_bytes_per_org
        self.max_total = max_entries_total
        self._total = 0
        self.ttl = ttl_seconds
        self._now = clock
        self._orgs: dict[str, _Partition] = {}
        self._lock = threading.Lock()

    def _cost(self, record: VectorRecord) -> int:
        return record.size_bytes or self.dimension * 4

    def _add(self, record: VectorRecord, maintain: bool = True) -> list[str]:
        if record.vector.shape != (self.dimension,):
            raise ValueError(f"vector has shape {record.vector.shape}, index dimension is {self.dimension}")
        part = self._orgs.setdefault(record.org_id, _Partition())
        if record.id in part.meta:
            self._drop(part, record.id)
        group = part.groups.get(record.filter_key)
        if group is None:
            group = part.groups[record.filter_key] = _Group(self.dimension)
        group.put(record.id, record.vector.astype(np.float32, copy=False))
        meta = _Meta(record.filter_key, record.created_at, self._cost(record))
        part.meta[record.id] = meta
        part.bytes += meta.size_bytes
        self._total += 1
        evicted: list[str] = []
        while len(part.meta) > self.max_entries or (part.bytes > self.max_bytes and len(part.meta) > 1):
            evicted.append(self._drop_oldest(part))
        if self.max_total is not None:
            # Past the bound across orgs, the org holding the most entries gives up its least recently used: a
            # tenant filling memory evicts its own entries, never a small tenant's.
            while self._total > self.max_total:
                evicted.append(self._drop_oldest(max(self._orgs.values(), key=lambda p: len(p.meta))))
        if maintain:
            group.maintain_graph()
        return evicted

    def _drop_oldest(self, part: _Partition) -> str:
        oldest = next(iter(part.meta))
        self._drop(part, oldest)
        return oldest

    def _drop(self, part: _Partition, id_: str) -> None:
        meta = part.meta.pop(id_)
        part.bytes -= meta.size_bytes
        self._total -= 1
        group = part.groups[meta.filter_key]
        group.drop(id_)
        if not group:
            del part.groups[meta.filter_key]

    async def _locked(self, fn: Callable[..., T], *args: Any) -> T:
        def run() -> T:
            with self._lock:
                return fn(*args)

        return await asyncio.to_thread(run)

    async def add(self, record: VectorRecord) -> list[str]:
        return await self._locked(self._add, record)

    async def load(self, records: Iterable[VectorRecord]) -> list[str]:
        return await self._locked(self._load, list(records))

    def _load(self, records: list[VectorRecord]) -> list[str]:
        evicted: set[str] = set()
        for record in sorted(records, key=lambda r: r.created_at):
            evicted.update(self._add(record, maintain=False))
            evicted.discard(record.id)
        for part in self._orgs.values():  # build every graph now, in one go: start-up may take the time
            for group in part.groups.values():
                group.maintain_graph(budget=len(group))
        return sorted(evicted)

    async def remove(self, org_id: str, ids: list[str]) -> None:
        await self._locked(self._remove, org_id, ids)

    def _remove(self, org_id: str, ids: list[str]) -> None:
        part = self._orgs.get(org_id)
        if part is None:
            return
        for id_ in ids:
            if id_ in part.meta:
                self._drop(part, id_)

    async def search(self, org_id: str, vector: Vector, k: int, filter_key: str) -> list[VectorMatch]:
        return await self._locked(self._search, org_id, vector, k, filter_key)

    def _search(self, org_id: str, vector: Vector, k: int, filter_key: str) -> list[VectorMatch]:
        part = self._orgs.get(org_id)
        group = part.groups.get(filter_key) if part else None
        if part is None or group is None or k <= 0:
            return []
        group.maintain_graph()
        found = group.search(vector.astype(np.float32, copy=False), k)
        matches: list[VectorMatch] = []
        expired: list[str] = []
        horizon = self._now() - self.ttl if self.ttl else None
        for id_, score in found:
            if horizon is not None and part.meta[id_].created_at < horizon:
                expired.append(id_)
                continue
            part.meta.move_to_end(id_)
            matches.append(VectorMatch(id_, score))
        for id_ in expired:
            self._drop(part, id_)
        return matches

    def entries(self, org_id: str) -> int:
        part = self._orgs.get(org_id)
        return len(part.meta) if part else 0

    async def aclose(self) -> None:
        self._orgs.clear()
