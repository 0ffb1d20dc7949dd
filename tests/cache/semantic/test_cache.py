from __future__ import annotations

import asyncio
import hashlib
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asahi.cache.semantic.cache import SemanticCache, SemanticEntry, Tier2Unavailable
from asahi.cache.semantic.compare import answers_agree
from asahi.cache.semantic.policy import EntryState, OrgModel
from asahi.cache.semantic.vetoes import names_differ, negation_differs, numbers_differ, vetoed
from asahi.cache.vectors.base import Vector, VectorMatch, VectorRecord, VectorStoreError
from asahi.cache.vectors.memory import MemoryVectorIndex


def vec(text: str, dim: int = 32) -> Vector:
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    out: Vector = (v / np.linalg.norm(v)).astype(np.float32)
    return out


def near(v: Vector, cos: float, seed: int = 0) -> Vector:
    """A unit vector at exactly cosine `cos` from v."""
    r = np.random.default_rng(seed).standard_normal(int(v.shape[0])).astype(np.float32)
    r -= (r @ v) * v
    r /= np.linalg.norm(r)
    out: Vector = np.asarray(cos * v + float(np.sqrt(1 - cos**2)) * r, dtype=np.float32)
    return out


def cache(delta: float = 0.05, verify_sample_rate: float = 0.05) -> SemanticCache:
    return SemanticCache(MemoryVectorIndex(32), rng=random.Random(0), delta=delta,
                         verify_sample_rate=verify_sample_rate)


def teach(c: SemanticCache, org: str, n: int = 400) -> None:
    """Labels as verification would give them: correct above 0.9, wrong below."""
    rng = random.Random(1)
    for _ in range(n):
        s = rng.uniform(0.6, 1.0)
        c.record_label(org, "none", s, s > 0.9)


async def test_cold_start_never_hits_but_explores() -> None:
    c = cache(verify_sample_rate=0.0)
    v = vec("how do I reset my password")
    await c.store("o", "ctx", "how do I reset my password", v, b"answer", "Click reset.")
    decision = await c.lookup("o", "ctx", "how can I reset my password", near(v, 0.97))
    assert not decision.hit and decision.verify and decision.reason == "explore"
    assert decision.entry is not None and decision.similarity == pytest.approx(0.97, abs=1e-4)


async def test_learns_to_hit_where_labels_say_it_is_safe() -> None:
    c = cache(verify_sample_rate=0.0)
    teach(c, "o")
    v = vec("q")
    stored = await c.store("o", "ctx", "how do I reset my password", v, b"answer", "Click reset.")
    for _ in range(50):  # lookups earn the error budget
        await c.lookup("o", "ctx", "unrelated", vec("unrelated"))
    hit = await c.lookup("o", "ctx", "how can I reset my password", near(v, 0.99))
    assert hit.hit and hit.entry is stored.entry and not hit.verify
    low = await c.lookup("o", "ctx", "how can I reset my password", near(v, 0.8))
    assert not low.hit
    assert not (await c.lookup("o", "other-ctx", "how can I reset my password", near(v, 0.99))).hit
    assert not (await c.lookup("other-org", "ctx", "how can I reset my password", near(v, 0.99))).hit


async def test_sampled_verification_sends_confident_hits_upstream() -> None:
    c = cache(verify_sample_rate=1.0)
    teach(c, "o")
    v = vec("q")
    await c.store("o", "ctx", "reset password", v, b"a", "a")
    for _ in range(50):
        await c.lookup("o", "ctx", "x", vec("x"))
    decision = await c.lookup("o", "ctx", "reset my password", near(v, 0.99))
    assert decision.verify and not decision.hit and decision.reason == "sampled"


async def test_a_numbers_veto_blocks_the_hit() -> None:
    c = cache(verify_sample_rate=0.0)
    teach(c, "o")
    v = vec("q")
    await c.store("o", "ctx", "convert 5 USD to EUR", v, b"a", "a")
    for _ in range(50):
        await c.lookup("o", "ctx", "x", vec("x"))
    decision = await c.lookup("o", "ctx", "convert 50 USD to EUR", near(v, 0.99))
    assert not decision.hit and decision.reason == "vetoed:numbers"


async def test_wrong_labels_on_an_entry_raise_its_own_boundary() -> None:
    c = cache(verify_sample_rate=0.0)
    teach(c, "o")
    v = vec("q")
    stored = await c.store("o", "ctx", "what is the best laptop", v, b"a", "a")
    for _ in range(50):
        await c.lookup("o", "ctx", "x", vec("x"))
    assert (await c.lookup("o", "ctx", "best laptop?", near(v, 0.99))).hit
    for _ in range(6):
        c.record_label("o", stored.entry.id, 0.99, False)
    assert not (await c.lookup("o", "ctx", "best laptop?", near(v, 0.99))).hit


async def test_feedback_by_request_id_is_scoped_to_the_org() -> None:
    c = cache(verify_sample_rate=0.0)
    teach(c, "o")
    v = vec("q")
    stored = await c.store("o", "ctx", "reset password", v, b"a", "a")
    for _ in range(50):
        await c.lookup("o", "ctx", "x", vec("x"))
    decision = await c.lookup("o", "ctx", "reset my password", near(v, 0.99))
    c.remember_hit("req-1", "o", decision)
    assert not c.record_feedback("intruder", "req-1", False)
    assert c.record_feedback("o", "req-1", False)
    [(similarity, correct)] = stored.entry.state.labels
    assert similarity == pytest.approx(0.99, abs=1e-4) and correct is False


async def test_state_round_trips() -> None:
    c = cache()
    teach(c, "o", 100)
    state = c.org_state("o")
    other = cache()
    other.load_org_state("o", state)
    assert other.model("o").t0 == pytest.approx(c.model("o").t0, abs=1e-3)
    entry_state = EntryState.from_json({"labels": [[0.95, True], [0.9, False]]})
    assert EntryState.from_json(entry_state.to_json()).labels == entry_state.labels
    entry = SemanticEntry("e", "o", "ctx", "t", vec("t"), b"p", "a", 1.0, entry_state)
    assert entry.to_json()["state"] == entry_state.to_json()
    loaded = cache()
    assert await loaded.load([entry]) == []
    assert loaded.entry("o", "e") is entry


class BrokenIndex(MemoryVectorIndex):
    async def search(self, org_id: str, vector: Vector, k: int, filter_key: str) -> list[VectorMatch]:
        raise VectorStoreError("down")

    async def add(self, record: VectorRecord) -> list[str]:
        raise VectorStoreError("down")


async def test_a_failing_store_is_tier2_unavailable() -> None:
    c = SemanticCache(BrokenIndex(32))
    with pytest.raises(Tier2Unavailable):
        await c.lookup("o", "ctx", "x", vec("x"))
    with pytest.raises(Tier2Unavailable):
        await c.store("o", "ctx", "x", vec("x"), b"", "")


def test_org_model_fits_the_boundary() -> None:
    model = OrgModel()
    rng = random.Random(3)
    for _ in range(2000):
        s = rng.uniform(0.5, 1.0)
        model.add(s, rng.random() < 1 / (1 + np.exp(-40 * (s - 0.85))))
    model.refit()
    assert model.t0 == pytest.approx(0.85, abs=0.02)
    mean, lower = model.correct_probability(0.85, EntryState())
    assert mean == pytest.approx(0.5, abs=0.1) and lower < mean


def test_the_budget_goes_to_the_surest_candidates() -> None:
    """Recent best candidates: 100 at 5% estimated error, 100 at 40%, over 1,000 lookups. At δ = 0.5% the budget
    (5 wrong hits) covers the sure ones only; at δ = 2% some of the unsure ones too."""
    model = OrgModel()
    for i in range(1000):
        model.count_lookup()
        if i % 5 == 0:
            model.offer(0.05 if i % 10 == 0 else 0.4)
    assert model.threshold(0.005) == pytest.approx(0.05)
    assert model.affordable(0.05, 0.005) and not model.affordable(0.4, 0.005)
    assert model.threshold(0.02) == pytest.approx(0.4) and model.affordable(0.4, 0.02)
    assert not model.affordable(0.6, 0.5)  # more likely wrong than right: never, whatever the budget
    model.charge(0.02 * model.lookups)
    assert not model.affordable(0.05, 0.02)  # the budget is spent


def test_estimates_are_scaled_to_the_errors_verification_finds() -> None:
    pessimist, optimist = OrgModel(), OrgModel()
    for model in (pessimist, optimist):
        assert model.calibration() == pytest.approx(1.0 + np.sqrt(1.0) * 0.5 / 3.0)  # nothing seen: ~1
        model.threshold(0.5)  # a loose bound: every candidate under 50% error is a would-be hit
    for i in range(400):  # would-be hits estimated 10% likely wrong: 2% turn out wrong, or 30%
        pessimist.check(0.1, i % 50 != 0)
        optimist.check(0.1, i % 10 >= 3)
    assert pessimist.calibration() < 0.35 and pessimist.error(0.1) < 0.035
    assert optimist.calibration() > 2.5 and optimist.error(0.1) > 0.25
    strict = OrgModel()
    strict.threshold(0.02)
    before = strict.calibration()
    strict.check(0.5, False)  # far beyond the serving threshold: not a would-be hit, not counted
    assert strict.calibration() == before


def test_vetoes() -> None:
    assert numbers_differ("convert 5 usd", "convert 50 usd") and not numbers_differ("a 5", "b 5")
    assert negation_differs("can I pay", "can't I pay") and not negation_differs("can I", "may I")
    assert names_differ("flights to Paris", "flights to Rome") and not names_differ("Hi there", "Hello there")
    assert vetoed("convert 5 usd", "convert 50 usd") == "numbers"


async def test_answers_agree_on_normalised_text() -> None:
    assert await answers_agree("Paris.", " paris ")
    assert not await answers_agree("Paris", "Rome")


prompts = st.text(st.characters(codec="utf-8", categories=["L", "N", "Zs"]), min_size=1, max_size=30)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), prompts), min_size=1, max_size=20),
       st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d"]), prompts), min_size=1, max_size=10))
def test_no_org_ever_sees_another_orgs_entry(stored: list[tuple[str, str]], asked: list[tuple[str, str]]) -> None:
    async def run() -> None:
        c = cache(verify_sample_rate=0.0)
        for org in "abcd":
            teach(c, org, 200)
        for org, text in stored:
            await c.store(org, "ctx", text, vec(text), b"", "")
        for _, text in asked + stored:
            for org_asked in "abcd":
                decision = await c.lookup(org_asked, "ctx", text, vec(text))
                assert decision.entry is None or decision.entry.org_id == org_asked

    asyncio.run(run())


async def test_an_entry_evicted_by_the_bound_across_orgs_is_forgotten_in_its_own_org() -> None:
    c = SemanticCache(MemoryVectorIndex(32, max_entries_total=2), rng=random.Random(0))
    first = await c.store("big", "ctx", "q1", vec("q1"), b"a", "a")
    await c.store("big", "ctx", "q2", vec("q2"), b"a", "a")
    stored = await c.store("small", "ctx", "q3", vec("q3"), b"a", "a")
    assert stored.evicted == [first.entry.id]
    assert c.entry("big", first.entry.id) is None
    assert c.entry("small", stored.entry.id) is not None
