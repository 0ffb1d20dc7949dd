from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from asahi.cache.vectors.base import DimensionMismatch, VectorRecord, VectorStoreError
from asahi.cache.vectors.factory import build_vector_index
from asahi.cache.vectors.memory import MemoryVectorIndex
from asahi.cache.vectors.pinecone import PineconeVectorIndex
from tests.cache.vectors.conftest import unit
from tests.fakes.pinecone_server import FakePinecone


@pytest.fixture(scope="module")
def server() -> Iterator[FakePinecone]:
    with FakePinecone(dimension=16) as fake:
        yield fake


@pytest.fixture
def fake(server: FakePinecone) -> FakePinecone:
    server.reset()
    return server


async def connect(fake: FakePinecone, ttl_seconds: float | None = None) -> PineconeVectorIndex:
    return await PineconeVectorIndex.connect(fake.api_key, dimension=16, control_host=fake.url,
                                             ttl_seconds=ttl_seconds)


async def test_start_up_logs_the_binding_line(fake: FakePinecone, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    index = await build_vector_index(dimension=16, pinecone_api_key=fake.api_key, pinecone_control_host=fake.url)
    assert isinstance(index, PineconeVectorIndex)
    assert "Tier 2 using Pinecone vector DB" in caplog.messages
    assert fake.requests[0].path == "/indexes/asahi-vectors"
    await index.aclose()


async def test_an_index_of_another_dimension_falls_back_to_memory_naming_both(
    fake: FakePinecone, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    index = await build_vector_index(dimension=1024, pinecone_api_key=fake.api_key, pinecone_control_host=fake.url)
    assert isinstance(index, MemoryVectorIndex) and index.dimension == 1024
    (warning,) = [m for m in caplog.messages if "falls back to the in-memory" in m]
    assert "1024" in warning and "16" in warning


async def test_connecting_directly_to_an_index_of_another_dimension_is_refused(fake: FakePinecone) -> None:
    with pytest.raises(DimensionMismatch, match=r"1024.*16"):
        await PineconeVectorIndex.connect(fake.api_key, dimension=1024, control_host=fake.url)


@pytest.mark.parametrize("case", ["bad key", "unknown index", "unreachable"])
async def test_init_failure_falls_back_to_memory_with_a_warning(
    fake: FakePinecone, caplog: pytest.LogCaptureFixture, case: str
) -> None:
    caplog.set_level(logging.WARNING)
    key, name, host = fake.api_key, "asahi-vectors", fake.url
    if case == "bad key":
        key = "wrong"
    elif case == "unknown index":
        name = "nope"
    else:
        host = "http://127.0.0.1:9"
    index = await build_vector_index(dimension=16, pinecone_api_key=key, pinecone_index=name,
                                     pinecone_control_host=host)
    assert isinstance(index, MemoryVectorIndex)
    assert any("falls back to the in-memory" in m for m in caplog.messages)


async def test_upsert_query_delete_by_namespace_and_filter(fake: FakePinecone) -> None:
    index = await connect(fake)
    await index.add(VectorRecord("a", "org1", "k", unit(1), 0.0))
    await index.load([VectorRecord(f"b{i}", "org1", "k", unit(10 + i), 0.0) for i in range(3)]
                     + [VectorRecord("c", "org2", "k", unit(1), 0.0)])
    found = await index.search("org1", unit(1), 2, "k")
    assert found[0].id == "a" and found[0].score == pytest.approx(1.0, abs=1e-4) and len(found) == 2
    assert [m.id for m in await index.search("org2", unit(1), 5, "k")] == ["c"]
    assert await index.search("org1", unit(1), 5, "other") == []
    query = next(r for r in fake.requests if r.path == "/query")
    assert query.body["namespace"] == "org1" and query.body["filter"] == {"filter_key": {"$eq": "k"}}
    await index.remove("org1", ["a"])
    assert all(m.id != "a" for m in await index.search("org1", unit(1), 5, "k"))
    await index.aclose()


async def test_ttl_filters_old_vectors(fake: FakePinecone) -> None:
    index = await connect(fake, ttl_seconds=60)
    await index.add(VectorRecord("old", "o", "k", unit(1), 0.0))
    await index.add(VectorRecord("new", "o", "k", unit(2), 1e12))
    assert [m.id for m in await index.search("o", unit(1), 5, "k")] == ["new"]
    await index.aclose()


async def test_data_plane_failures_are_vector_store_errors(fake: FakePinecone) -> None:
    index = await connect(fake)
    fake.fail_next(*[500] * 50)  # outlasts the SDK's own retries
    with pytest.raises(VectorStoreError):
        await index.search("o", unit(1), 5, "k")
    fake.reset()
    fake.fail_next(*[400] * 5)
    with pytest.raises(VectorStoreError):
        await index.add(VectorRecord("a", "o", "k", unit(1), 0.0))
    fake.fail_next(*[400] * 5)
    with pytest.raises(VectorStoreError):
        await index.remove("o", ["a"])
    await index.aclose()
