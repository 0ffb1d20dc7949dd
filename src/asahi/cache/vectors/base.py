"""The vector index contract tier 2 relies on, whatever backs it (process memory or Pinecone).

Every call is scoped by org: an index is a set of per-org partitions and nothing of one org is ever a candidate
for another. `filter_key` (the request's context key) narrows a search to entries whose whole context matched
exactly, so the only thing compared by similarity is the last user message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float32]


class VectorStoreError(Exception):
    """The vector store failed (network, server, bad state). Callers treat it as a tier 2 miss."""


class DimensionMismatch(ValueError):
    """The embedder's dimension differs from the index's; raised at start-up, never on the request path."""

    def __init__(self, embedder_dimension: int, index_dimension: int, where: str) -> None:
        super().__init__(
            f"embedding dimension {embedder_dimension} does not match the vector index dimension "
            f"{index_dimension} ({where}); use an embedder of dimension {index_dimension} or an index of "
            f"dimension {embedder_dimension}"
        )
        self.embedder_dimension = embedder_dimension
        self.index_dimension = index_dimension


@dataclass(slots=True, frozen=True)
class VectorRecord:
    """One cached prompt's vector. `size_bytes` is what the entry costs in total (vector, text, answer)."""

    id: str
    org_id: str
    filter_key: str
    vector: Vector
    created_at: float
    size_bytes: int = 0


@dataclass(slots=True, frozen=True)
class VectorMatch:
    id: str
    score: float  # cosine similarity, higher is closer


class VectorIndex(Protocol):
    name: str
    shared: bool  # every instance sees the same index (Pinecone): entries made elsewhere are already in it
    dimension: int

    async def add(self, record: VectorRecord) -> list[str]:
        """Insert or replace one record; return the ids evicted to stay within bounds."""
        ...

    async def load(self, records: Iterable[VectorRecord]) -> list[str]:
        """Bulk insert persisted records (start-up); return the ids evicted."""
        ...

    async def remove(self, org_id: str, ids: list[str]) -> None: ...

    async def search(self, org_id: str, vector: Vector, k: int, filter_key: str) -> list[VectorMatch]:
        """The k nearest live records of this org with this filter key, best first."""
        ...

    async def aclose(self) -> None: ...


def check_dimension(embedder_dimension: int, index_dimension: int, where: str) -> None:
    if embedder_dimension != index_dimension:
        raise DimensionMismatch(embedder_dimension, index_dimension, where)
