"""Build the tier 2 vector index from settings: Pinecone when configured and reachable, else process memory."""

from __future__ import annotations

import logging

from asahi.cache.vectors.base import VectorIndex
from asahi.cache.vectors.memory import MemoryVectorIndex

log = logging.getLogger(__name__)


async def build_vector_index(
    *,
    dimension: int,
    pinecone_api_key: str | None = None,
    pinecone_index: str = "asahi-vectors",
    pinecone_host: str | None = None,
    pinecone_control_host: str | None = None,
    max_entries_per_org: int = 100_000,
    max_bytes_per_org: int = 512 * 1024 * 1024,
    max_entries_total: int | None = None,
    ttl_seconds: float | None = None,
) -> VectorIndex:
    """`dimension` is the active embedder's. Any Pinecone failure at start-up (unreachable, unknown index, bad
    key, or an index of another dimension, which could never take this embedder's vectors) falls back to memory
    with the guide's warning, naming the cause: the gateway serves, with tier 2 local to this instance."""
    if pinecone_api_key:
        from asahi.cache.vectors.pinecone import PineconeVectorIndex  # the SDK loads only when it is used

        try:
            return await PineconeVectorIndex.connect(
                pinecone_api_key, dimension=dimension, index_name=pinecone_index, index_host=pinecone_host,
                control_host=pinecone_control_host, ttl_seconds=ttl_seconds)
        except Exception as exc:  # noqa: BLE001 - unreachable, unknown index, bad key: serve with memory
            log.warning("Pinecone init failed (%s); tier 2 falls back to the in-memory vector index", exc)
    return MemoryVectorIndex(dimension, max_entries_per_org=max_entries_per_org,
                             max_bytes_per_org=max_bytes_per_org, max_entries_total=max_entries_total,
                             ttl_seconds=ttl_seconds)
