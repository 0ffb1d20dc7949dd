"""The interface the request path calls, per org, and the per-org state it persists."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from asahi.routing.learned import Assessment, goes_cheap
from asahi.routing.online.calibration import MIN_LABELS, Saving
from asahi.routing.online.service import OnlineRouting
from tests.routing.conftest import fixed_router

SAVING = Saving(100.0, 0.5)


def vectors(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = np.ones((count, 384)) + rng.normal(0, 0.5, (count, 384))
    result: np.ndarray = (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)
    return result


def teach(online: OnlineRouting, org: str, count: int, loss: float = 0.0) -> None:
    for vector in vectors(count, seed=1):
        online.record(org, Assessment(0.2, 50.0, 0, 0.9), vector, loss, saving=SAVING)


def test_a_new_org_routes_nothing_cheap_and_labels_eagerly() -> None:
    online = OnlineRouting(fixed_router(0.0))
    advice = online.advise("org", Assessment(0.0, 100.0, 0, 1.0), vectors(1, 0)[0], 0.95)
    assert advice.threshold == -math.inf
    assert not advice.covered
    assert "too few" in advice.reason
    assert online.shadow_probability("org", 0, 0.95, relative_cost=0.05) == 1.0


def test_labels_open_routing_for_their_org_only() -> None:
    online = OnlineRouting(fixed_router(0.0))
    teach(online, "a", 400)
    query = vectors(1, seed=2)[0]
    advice = online.advise("a", Assessment(0.2, 50.0, 0, 0.9), query, 0.95)
    assert advice.covered
    assert goes_cheap(advice.assessment.loss, SAVING.at(advice.assessment.answer_tokens), advice.threshold)
    assert "calibrated on 400" in advice.reason
    assert online.advise("b", Assessment(0.2, 50.0, 0, 0.9), query, 0.95).threshold == -math.inf
    assert online.threshold("a", 1, 0.95) == -math.inf  # another family has no labels


def test_guard_is_the_org_coverage() -> None:
    online = OnlineRouting(fixed_router(0.0))
    teach(online, "a", 200)
    assessment = Assessment(0.2, 50.0, 0, 0.9)
    assert online.guard("a", assessment, vectors(1, seed=3)[0])
    far = -vectors(1, seed=3)[0]  # the opposite direction of every label
    assert not online.guard("a", assessment, far)


def test_answer_lengths_are_learned_per_org() -> None:
    online = OnlineRouting()
    for _ in range(50):
        online.record_answer("a", 0, offline_tokens=200.0, actual_tokens=5.0)
    vector = vectors(1, 0)[0]
    assert online.advise("a", Assessment(0.0, 200.0, 0, 1.0), vector, 0.95).assessment.answer_tokens < 10
    assert online.advise("b", Assessment(0.0, 200.0, 0, 1.0), vector, 0.95).assessment.answer_tokens == 200.0


def test_cascade_calls() -> None:
    online = OnlineRouting()
    assert not online.cascade_check("a", 2, 0.0, 0.95)
    for _ in range(MIN_LABELS * 10):
        online.cascade_record("a", 2, 0.05, 0.0)
        online.cascade_check("a", 2, 0.05, 0.95)
    assert online.cascade_check("a", 2, 0.05, 0.95)
    assert 0 < online.cascade_shadow_probability("a", 2, 0.95) <= 1


def test_org_state_round_trips() -> None:
    online = OnlineRouting(fixed_router(0.0))
    teach(online, "a", 300)
    online.record_answer("a", 0, 200.0, 5.0)
    for _ in range(MIN_LABELS):
        online.cascade_record("a", 2, 0.1, 0.0)
        online.cascade_check("a", 2, 0.1, 0.95)
    online.family("a", 0).refit()
    state = json.loads(json.dumps(online.org_state("a")))

    other = OnlineRouting(fixed_router(0.0))
    other.load_org_state("a", state)

    query, assessment = vectors(1, seed=2)[0], Assessment(0.2, 200.0, 0, 0.9)
    before, after = online.advise("a", assessment, query, 0.95), other.advise("a", assessment, query, 0.95)
    assert after.threshold == pytest.approx(before.threshold, rel=0.01)
    assert after.covered == before.covered
    assert after.assessment.answer_tokens == pytest.approx(before.assessment.answer_tokens)
    assert other.cascade("a", 2).threshold(0.95) == online.cascade("a", 2).threshold(0.95)


def test_a_state_of_another_version_is_ignored() -> None:
    online = OnlineRouting()
    online.load_org_state("a", {"version": 0, "families": {"open": {}}})
    assert online.org_state("a")["families"] == {}
