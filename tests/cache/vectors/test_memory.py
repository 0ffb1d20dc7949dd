from __future__ import annotations

import numpy as np
import pytest

from asahi.cache.vectors import memory
from asahi.cache.vectors.base import VectorRecord
from asahi.cache.vectors.memory import MemoryVectorIndex
from tests.cache.vectors.conftest import unit


def record(i: int, org: str = "o", key: str = "k", at: float = 0.0, size: int = 0) -> VectorRecord:
    return VectorRecord(f"id{i}", org, key, unit(i), at, size)


async def test_nearest_first_within_org_and_filter_key() -> None:
    index = MemoryVectorIndex(16)
    for i in range(10):
        await index.add(record(i))
    await index.add(record(100, org="other"))
    await index.add(record(101, key="other-key"))
    found = await index.search("o", unit(3), 3, "k")
    assert found[0].id == "id3" and found[0].score == pytest.approx(1.0, abs=1e-5)
    assert [m.score for m in found] == sorted((m.score for m in found), reverse=True)
    assert await index.search("o", unit(100), 20, "k") != [] and all(
        m.id != "id100" for m in await index.search("o", unit(100), 20, "k"))
    assert [m.id for m in await index.search("o", unit(101), 20, "other-key")] == ["id101"]
    assert await index.search("nobody", unit(3), 3, "k") == []


async def test_remove_and_replace() -> None:
    index = MemoryVectorIndex(16)
    for i in range(5):
        await index.add(record(i))
    await index.remove("o", ["id2", "missing"])
    assert all(m.id != "id2" for m in await index.search("o", unit(2), 5, "k"))
    await index.add(VectorRecord("id0", "o", "k", unit(99), 0.0))  # same id, new vector
    assert (await index.search("o", unit(99), 1, "k"))[0].id == "id0"
    assert index.entries("o") == 4


async def test_bounded_by_count_least_recently_used_first() -> None:
    index = MemoryVectorIndex(16, max_entries_per_org=3)
    for i in range(3):
        await index.add(record(i))
    await index.search("o", unit(0), 1, "k")  # id0 is used, so id1 is now the oldest
    assert await index.add(record(3)) == ["id1"]
    assert index.entries("o") == 3
    await index.add(record(4, org="p"))  # another org has its own budget
    assert index.entries("o") == 3 and index.entries("p") == 1


async def test_bounded_across_orgs_the_largest_org_gives_way() -> None:
    index = MemoryVectorIndex(16, max_entries_total=5)
    for i in range(4):
        await index.add(record(i, org="big"))
    await index.add(record(10, org="small"))
    assert await index.add(record(11, org="small")) == ["id0"]  # the big org's oldest, not the small one's
    assert await index.add(record(4, org="big")) == ["id1"]
    assert index.entries("big") == 3 and index.entries("small") == 2
    await index.remove("big", ["id2"])
    assert await index.add(record(12, org="small")) == []  # a removal made room


async def test_bounded_by_bytes() -> None:
    index = MemoryVectorIndex(16, max_bytes_per_org=1000)
    evicted: list[str] = []
    for i in range(5):
        evicted += await index.add(record(i, size=300))
    assert evicted == ["id0", "id1"] and index.entries("o") == 3


async def test_expired_entries_are_never_returned() -> None:
    now = [1000.0]
    index = MemoryVectorIndex(16, ttl_seconds=60, clock=lambda: now[0])
    await index.add(record(1, at=1000.0))
    assert len(await index.search("o", unit(1), 1, "k")) == 1
    now[0] = 1061.0
    assert await index.search("o", unit(1), 1, "k") == []
    assert index.entries("o") == 0


async def test_bulk_load_keeps_the_newest_within_bounds() -> None:
    index = MemoryVectorIndex(16, max_entries_per_org=2)
    evicted = await index.load([record(i, at=float(i)) for i in range(4)])
    assert evicted == ["id0", "id1"]
    assert {m.id for m in await index.search("o", unit(0), 5, "k")} == {"id2", "id3"}


async def test_large_groups_switch_to_hnsw_and_stay_correct(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "HNSW_MIN", 50)
    monkeypatch.setattr(memory, "BUILD_SLICE", 20)
    index = MemoryVectorIndex(16)
    for i in range(120):
        await index.add(record(i))
    await index.remove("o", [f"id{i}" for i in range(0, 120, 7)])
    for _ in range(10):  # let the graph catch up a slice at a time
        await index.search("o", unit(1), 1, "k")
    group = index._orgs["o"].groups["k"]
    assert group.graph is not None and len(group.graph_labels) == len(group)
    for i in (1, 2, 50, 118):
        assert (await index.search("o", unit(i), 1, "k"))[0].id == f"id{i}"
    assert all(m.id != "id7" for m in await index.search("o", unit(7), 10, "k"))


async def test_wrong_dimension_is_refused() -> None:
    index = MemoryVectorIndex(8)
    with pytest.raises(ValueError, match="dimension"):
        await index.add(record(1))
    assert np.isfinite(unit(1)).all()
