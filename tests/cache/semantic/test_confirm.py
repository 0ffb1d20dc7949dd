"""The two-stage lookup: static vectors searched, the confirming model run only for candidates past the gate."""

from __future__ import annotations

import random

import numpy as np
import pytest

from asahi.cache.semantic.cache import SemanticCache
from asahi.cache.semantic.confirm import EXPLORE_EVERY, GATE_RANGE, MIN_RUNS, Confirmation
from asahi.cache.vectors.base import Vector
from asahi.cache.vectors.memory import MemoryVectorIndex
from asahi.embeddings.base import EmbeddingError, Vectors
from tests.cache.semantic.test_cache import near, teach, vec


class Model:
    """A confirming model with fixed vectors per text, recording every call."""

    name = "fake-minilm"
    dimension = 24

    def __init__(self, vectors: dict[str, Vector]) -> None:
        self.vectors = vectors
        self.calls: list[list[str]] = []

    async def embed(self, texts: list[str]) -> Vectors:
        self.calls.append(texts)
        return np.stack([self.vectors[t] for t in texts])

    async def aclose(self) -> None:
        return None


QUESTION, PARAPHRASE, LOOKALIKE = "how do I reset my password", "how can I reset my password", "reset my router"


def two_stage(model: Model) -> SemanticCache:
    c = SemanticCache(MemoryVectorIndex(32), rng=random.Random(0), verify_sample_rate=0.0, delta=0.05,
                      confirmation=Confirmation(model))
    teach(c, "o")
    return c


def fake_model() -> Model:
    question = vec(QUESTION, 24)
    return Model({QUESTION: question, PARAPHRASE: near(question, 0.97, seed=1),
                  LOOKALIKE: near(question, 0.4, seed=2)})


async def earn_budget(c: SemanticCache, org: str = "o") -> None:
    for i in range(50):
        await c.lookup(org, "ctx", f"unrelated {i}", vec(f"unrelated {i}"))


def gate(c: SemanticCache, org: str = "o") -> float:
    assert c.confirmation is not None
    return c.confirmation.gate(c.model(org).lowest_servable(0.05))


async def test_a_clear_miss_never_runs_the_confirming_model() -> None:
    model = fake_model()
    c = two_stage(model)
    static = vec(QUESTION)
    await c.store("o", "ctx", QUESTION, static, b"a", "a")
    decision = await c.lookup("o", "ctx", PARAPHRASE, near(static, gate(c) - 0.05))
    assert not decision.hit and decision.confirmed is None and model.calls == []


async def test_a_paraphrase_is_served_on_its_confirmed_similarity() -> None:
    model = fake_model()
    c = two_stage(model)
    static = vec(QUESTION)
    stored = await c.store("o", "ctx", QUESTION, static, b"a", "a")
    await earn_budget(c)
    decision = await c.lookup("o", "ctx", PARAPHRASE, near(static, gate(c) + 0.02))
    assert decision.hit and decision.entry is stored.entry
    assert decision.similarity == pytest.approx(0.97, abs=1e-4)  # MiniLM's cosine, not the static one
    assert decision.confirmed is not None and np.allclose(decision.confirmed, model.vectors[PARAPHRASE])
    assert model.calls == [[PARAPHRASE, QUESTION]]  # the entry had no vector yet: embedded in the same call


async def test_static_lookalikes_are_judged_by_the_confirming_model() -> None:
    model = fake_model()
    c = two_stage(model)
    static = vec(QUESTION)
    await c.store("o", "ctx", QUESTION, static, b"a", "a")
    await earn_budget(c)
    decision = await c.lookup("o", "ctx", LOOKALIKE, near(static, 0.95))
    assert not decision.hit and decision.reason == "miss"  # MiniLM says 0.4: not even worth labelling


async def test_an_entry_keeps_its_vector_and_a_stored_prompt_keeps_the_one_its_lookup_made() -> None:
    model = fake_model()
    c = two_stage(model)
    static = vec(QUESTION)
    first = await c.store("o", "ctx", QUESTION, static, b"a", "a")
    decision = await c.lookup("o", "ctx", LOOKALIKE, near(static, 0.9))
    assert first.entry.confirm_vector is not None
    second = await c.store("o", "ctx", LOOKALIKE, near(static, 0.9), b"b", "b", confirm_vector=decision.confirmed)
    assert second.entry.confirm_vector is decision.confirmed
    await c.lookup("o", "ctx", PARAPHRASE, near(static, 0.9, seed=3))
    assert model.calls[-1] == [PARAPHRASE]  # both candidates had their vectors: only the prompt is embedded


async def test_a_failing_confirming_model_raises_embedding_error() -> None:
    class Broken(Model):
        async def embed(self, texts: list[str]) -> Vectors:
            raise EmbeddingError("model file vanished")

    c = two_stage(Broken({}))
    static = vec(QUESTION)
    await c.store("o", "ctx", QUESTION, static, b"a", "a")
    with pytest.raises(EmbeddingError):
        await c.lookup("o", "ctx", PARAPHRASE, near(static, 0.9))


async def test_another_orgs_entries_are_never_confirmed() -> None:
    model = fake_model()
    c = two_stage(model)
    teach(c, "other")
    static = vec(QUESTION)
    await c.store("o", "ctx", QUESTION, static, b"a", "a")
    await earn_budget(c, "other")
    decision = await c.lookup("other", "ctx", PARAPHRASE, static)
    assert decision.entry is None and not decision.hit and model.calls == []


def test_the_gate_follows_what_the_org_could_serve_within_its_range() -> None:
    confirmation = Confirmation(fake_model())
    assert confirmation.gate(0.85) == pytest.approx(0.75)
    assert confirmation.gate(2.0) == GATE_RANGE[1] and confirmation.gate(0.0) == GATE_RANGE[0]
    c = two_stage(fake_model())
    rng = random.Random(2)
    for _ in range(400):  # an org whose paraphrases are right from cosine 0.75 on
        s = rng.uniform(0.4, 1.0)
        c.record_label("loose", "none", s, s > 0.75)
    assert gate(c, "loose") < gate(c, "o") < gate(c, "new org")  # "o" learned 0.9; a new org knows nothing


async def test_lookups_like_those_that_never_found_a_servable_candidate_stop_confirming() -> None:
    model = Model({})
    confirmation = Confirmation(model)
    c = SemanticCache(MemoryVectorIndex(32), rng=random.Random(0), verify_sample_rate=0.0, vetoes=(), delta=0.05,
                      confirmation=confirmation)
    teach(c, "o")
    static = vec("a long prompt")
    far = near(vec("its text"), 0.2)
    model.vectors["its text"] = far
    entry = (await c.store("o", "ctx", "its text", static, b"a", "a")).entry
    asked = [f"prompt {i}" for i in range(int(MIN_RUNS) + 2 * EXPLORE_EVERY)]
    for text in asked:
        model.vectors[text] = vec(text, 32)
    short_gate = gate(c)
    for text in asked:  # static cosine past the gate, yet MiniLM never agrees
        await c.lookup("o", "ctx", text, near(static, short_gate + 0.01))
    confirmed = [call[0] for call in model.calls]
    assert confirmed[: int(MIN_RUNS)] == asked[: int(MIN_RUNS)]
    assert len(confirmed) == int(MIN_RUNS) + 2  # then one lookup in EXPLORE_EVERY keeps the record current
    assert entry.confirm_vector is not None
    longer = "word " * 100  # another length cell: its own record
    model.vectors[longer] = vec(longer, 32)
    await c.lookup("o", "ctx", longer, near(static, short_gate + 0.01))
    assert model.calls[-1] == [longer]
