"""Property: nothing of one org is ever a candidate for another, on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from asahi.cache.vectors.base import VectorIndex, VectorRecord
from asahi.cache.vectors.memory import MemoryVectorIndex
from asahi.cache.vectors.pinecone import PineconeVectorIndex
from tests.cache.vectors.conftest import unit
from tests.fakes.pinecone_server import FakePinecone

orgs = st.sampled_from(["acme", "globex", "initech", "org-1", "org_2"])
keys = st.sampled_from(["ctx-a", "ctx-b"])
writes = st.lists(st.tuples(orgs, keys, st.integers(0, 30)), min_size=1, max_size=25)
reads = st.lists(st.tuples(orgs, keys, st.integers(0, 30)), min_size=1, max_size=10)


async def check(index: VectorIndex, stored: list[tuple[str, str, int]], queries: list[tuple[str, str, int]]) -> None:
    owner: dict[str, tuple[str, str]] = {}
    for n, (org, key, seed) in enumerate(stored):
        record_id = f"r{n}"
        owner[record_id] = (org, key)
        await index.add(VectorRecord(record_id, org, key, unit(seed), 0.0))
    for org, key, seed in queries:
        for match in await index.search(org, unit(seed), 10, key):
            assert owner[match.id] == (org, key)


@settings(max_examples=60, deadline=None)
@given(writes, reads)
def test_memory_index_never_crosses_orgs(stored: list[tuple[str, str, int]],
                                         queries: list[tuple[str, str, int]]) -> None:
    asyncio.run(check(MemoryVectorIndex(16), stored, queries))


@pytest.fixture(scope="module")
def pinecone_server() -> Iterator[FakePinecone]:
    with FakePinecone(dimension=16) as fake:
        yield fake


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes, reads)
def test_pinecone_index_never_crosses_orgs(pinecone_server: FakePinecone, stored: list[tuple[str, str, int]],
                                           queries: list[tuple[str, str, int]]) -> None:
    async def run() -> None:
        pinecone_server.reset()
        index = await PineconeVectorIndex.connect(pinecone_server.api_key, dimension=16,
                                                  control_host=pinecone_server.url)
        try:
            await check(index, stored, queries)
        finally:
            await index.aclose()

    asyncio.run(run())
