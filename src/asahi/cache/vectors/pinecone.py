"""Pinecone as the tier 2 vector index: shared by every gateway instance and kept across restarts.

One namespace per org, so a query can only ever see its own org's vectors; the context key and the creation time
are metadata, filtered on at query time (exact context match, TTL). The index must exist with metric cosine and
the active embedder's dimension: `connect` checks it with describe_index before serving anything.
Pinecone holds its own bounds; expired vectors are filtered out, and deleted by whoever prunes the persisted
entries (`remove`). Every SDK failure becomes VectorStoreError, which tier 2 treats as a miss.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from pinecone import AsyncPinecone, RetryConfig

from asahi.cache.vectors.base import Vector, VectorMatch, VectorRecord, VectorStoreError, check_dimension

log = logging.getLogger(__name__)
DEFAULT_INDEX = "asahi-vectors"
UPSERT_BATCH = 100
# Tier 2 is an optimisation on the request path: one quick retry, then the request goes on uncached.
RETRIES = RetryConfig(max_retries=1, backoff_factor=0.05, max_wait=0.2)
# The SDK's data-plane client takes no retry settings (it retries 5xx up to 3 times, waiting up to 60 s), so a
# deadline bounds every data-plane call instead.
SEARCH_DEADLINE = 1.0
WRITE_DEADLINE = 5.0


class PineconeVectorIndex:
    name = "pinecone"
    shared = True

    def __init__(self, client: AsyncPinecone, index: Any, dimension: int, ttl_seconds: float | None) -> None:
        self._client = client
        self._index = index
        self.dimension = dimension
        self.ttl = ttl_seconds

    @classmethod
    async def connect(
        cls,
        api_key: str,
        *,
        dimension: int,
        index_name: str = DEFAULT_INDEX,
        index_host: str | None = None,
        control_host: str | None = None,
        ttl_seconds: float | None = None,
        request_timeout: float = 5.0,
    ) -> PineconeVectorIndex:
        """Describe the index, check its dimension and metric, open the data plane. `index_host` overrides
        the host describe_index reports (PINECONE_HOST); `control_host` the API host (tests)."""
        client = AsyncPinecone(api_key=api_key, host=control_host, timeout=request_timeout, retry_config=RETRIES)
        try:
            description = await client.describe_index(index_name)
            check_dimension(dimension, int(description.dimension or 0), f"Pinecone index '{index_name}'")
            metric = description.metric
            if metric is not None and str(metric).lower() != "cosine":
                raise VectorStoreError(f"Pinecone index '{index_name}' uses metric {metric}; tier 2 needs cosine")
            host = index_host or description.host
            if not host:
                raise VectorStoreError(f"Pinecone index '{index_name}' has no host yet (is it ready?)")
            index = client.IndexAsyncio(host=host)
        except BaseException:
            await client.close()
            raise
        log.info("Tier 2 using Pinecone vector DB")
        return cls(client, index, dimension, ttl_seconds)

    async def add(self, record: VectorRecord) -> list[str]:
        await self._upsert(record.org_id, [record])
        return []

    async def load(self, records: Iterable[VectorRecord]) -> list[str]:
        by_org: dict[str, list[VectorRecord]] = defaultdict(list)
        for record in records:
            by_org[record.org_id].append(record)
        for org_id, batch in by_org.items():
            for start in range(0, len(batch), UPSERT_BATCH):
                await self._upsert(org_id, batch[start : start + UPSERT_BATCH])
        return []

    async def _upsert(self, org_id: str, records: list[VectorRecord]) -> None:
        vectors = [{"id": r.id, "values": r.vector.tolist(),
                    "metadata": {"filter_key": r.filter_key, "created_at": r.created_at}} for r in records]
        try:
            async with asyncio.timeout(WRITE_DEADLINE):
                await self._index.upsert(vectors=vectors, namespace=org_id, show_progress=False)
        except Exception as exc:  # the SDK raises many types, and timeouts; all mean "tier 2 unavailable"
            raise VectorStoreError(f"Pinecone upsert failed: {exc}") from exc

    async def remove(self, org_id: str, ids: list[str]) -> None:
        if not ids:
            return
        try:
            async with asyncio.timeout(WRITE_DEADLINE):
                await self._index.delete(ids=ids, namespace=org_id)
        except Exception as exc:
            raise VectorStoreError(f"Pinecone delete failed: {exc}") from exc

    async def search(self, org_id: str, vector: Vector, k: int, filter_key: str) -> list[VectorMatch]:
        if k <= 0:
            return []
        flt: dict[str, Any] = {"filter_key": {"$eq": filter_key}}
        if self.ttl:
            flt = {"$and": [flt, {"created_at": {"$gte": time.time() - self.ttl}}]}
        try:
            async with asyncio.timeout(SEARCH_DEADLINE):
                result = await self._index.query(vector=vector.tolist(), top_k=k, namespace=org_id, filter=flt)
        except Exception as exc:
            raise VectorStoreError(f"Pinecone query failed: {exc}") from exc
        return [VectorMatch(m.id, float(m.score)) for m in result.matches]

    async def aclose(self) -> None:
        await self._index.close()
        await self._client.close()
