"""Per-org calibration: the floor holds when the offline model is wrong, no evidence means the strong model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from asahi.routing.learned import goes_cheap
from asahi.routing.online import evidence
from asahi.routing.online.calibration import MIN_LABELS, FamilyCalibration, Saving
from tests.routing.online.stream import SAVING, clustered_traffic, run


def inverted(hard: bool) -> float:
    """An offline model that is badly wrong: it calls the hard prompts safe and the easy ones risky."""
    return 0.0 if hard else 0.5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_floor_holds_when_the_offline_model_is_badly_wrong(seed: int) -> None:
    requests = clustered_traffic(2000, hard_loss_rate=0.6, seed=seed, offline=inverted)
    # Trusting the offline model would send the hard half cheap and keep about 70% of the quality.
    trusted = 1 - sum(r.loss for r in requests if r.offline_loss == 0.0) / len(requests)
    assert trusted < 0.8

    outcome = run(FamilyCalibration(offline_bar=0.0), requests, seed)

    assert outcome.quality >= 0.95
    assert outcome.cheap_share > 0.2  # and it still finds the easy half


def test_the_offline_estimate_loses_its_weight_when_it_is_wrong() -> None:
    calibration = FamilyCalibration(offline_bar=0.0)
    run(calibration, clustered_traffic(1500, hard_loss_rate=0.6, seed=3, offline=inverted), seed=3)
    fresh = clustered_traffic(40, 0.6, seed=4, offline=inverted)
    hard = [r for r in fresh if r.offline_loss == 0.0]
    easy = [r for r in fresh if r.offline_loss == 0.5]
    loss = {
        name: np.mean([calibration.estimate(r.embedding, r.offline_loss, 1.0).loss for r in group])
        for name, group in (("easy", easy), ("hard", hard))
    }
    assert loss["hard"] > loss["easy"] + 0.3


def test_no_labels_means_nothing_goes_cheap() -> None:
    calibration = FamilyCalibration()
    vector = np.ones(16, np.float32) / 4
    assert calibration.threshold(0.95) == -np.inf
    assert not calibration.estimate(vector, -1.0, 1.0).covered
    assert calibration.shadow_probability(0.95, relative_cost=0.05) == 1.0  # labels are cheap and needed


def test_too_few_labels_mean_nothing_goes_cheap_however_good_they_look() -> None:
    calibration = FamilyCalibration()
    rng = np.random.default_rng(0)
    for _ in range(MIN_LABELS - 1):
        vector = rng.normal(size=16).astype(np.float32)
        calibration.record(
            vector / np.linalg.norm(vector), 0.0, offline_loss=0.0, offline_tokens=0.0, nearest=1.0, saving=SAVING
        )
    assert calibration.threshold(0.95) == -np.inf


def test_a_region_without_labels_is_not_covered() -> None:
    requests = clustered_traffic(600, hard_loss_rate=0.0, seed=5, offline=lambda hard: 0.0)
    calibration = FamilyCalibration()
    for request in requests:
        calibration.record(
            request.embedding, request.loss, offline_loss=0.0, offline_tokens=0.0, nearest=1.0, saving=SAVING
        )
    assert calibration.threshold(0.95) > 0
    assert calibration.estimate(requests[0].embedding, 0.0, 1.0).covered
    # A direction orthogonal to every cluster centre (the centres are rows of one orthogonal matrix).
    elsewhere = np.linalg.qr(np.random.default_rng(99).normal(size=(16, 16)))[0][15].astype(np.float32)
    assert not calibration.estimate(elsewhere, 0.0, 1.0).covered


def test_a_shift_to_prompts_far_from_every_label_costs_no_quality() -> None:
    """Routing opens on easy traffic; then the org's traffic moves to prompts it has no labels near, on which
    the cheap model fails and the offline model says all is well. The guard sends them to the strong model
    until labels arrive there."""
    calibration = FamilyCalibration(offline_bar=0.0)
    before = run(calibration, clustered_traffic(1500, 0.6, seed=7, offline=lambda hard: 0.0, clusters=range(4)), 7)
    assert before.cheap_share > 0.5
    after = run(calibration, clustered_traffic(1000, 0.6, seed=8, offline=lambda hard: 0.0, clusters=range(4, 8)), 8)
    assert after.quality >= 0.95


def test_the_fit_follows_the_labels_once_old_ones_age_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evidence, "MAX_LABELS", 60)
    calibration = FamilyCalibration()
    good = clustered_traffic(60, 0.0, seed=9, offline=lambda hard: 0.0, clusters=range(4))
    bad = clustered_traffic(60, 1.0, seed=10, offline=lambda hard: 0.0, clusters=range(4, 8))
    for request in good + bad:  # the bad labels replace the good ones at the cap
        calibration.record(request.embedding, request.loss, offline_loss=0.0, offline_tokens=0.0, nearest=1.0,
                           saving=SAVING)
    assert len(calibration.evidence) == 60
    assert calibration.estimate(bad[0].embedding, 0.0, 1.0).loss > 0.9
    threshold = calibration.threshold(0.95)
    routed = [goes_cheap(calibration.estimate(r.embedding, 0.0, 1.0).loss, SAVING.at(0), threshold) for r in bad]
    assert np.mean(routed) <= 0.05  # what still goes cheap fits the budget even if all of it is lost


def test_feedback_informs_the_estimate_but_never_the_bound() -> None:
    calibration = FamilyCalibration()
    vector = np.ones(16, np.float32) / 4
    for _ in range(MIN_LABELS + 10):
        calibration.record(
            vector, 0.0, offline_loss=0.0, offline_tokens=0.0, nearest=1.0, saving=SAVING, feedback=True
        )
    assert calibration.threshold(0.95) == -np.inf


def test_answer_lengths_follow_the_org() -> None:
    calibration = FamilyCalibration()
    assert calibration.answer_tokens(150.0) == pytest.approx(150.0)
    for _ in range(100):
        calibration.record_answer(offline_tokens=150.0, actual_tokens=1.0)
    assert calibration.answer_tokens(150.0) < 2.0


def test_the_saving_of_a_label_follows_the_learned_answer_length() -> None:
    assert Saving(10.0, 2.0).at(5.0) == 20.0


def test_state_round_trips() -> None:
    calibration = FamilyCalibration(offline_bar=0.0)
    requests = clustered_traffic(800, hard_loss_rate=0.6, seed=6, offline=inverted)
    run(calibration, requests, seed=6)
    calibration.record_answer(100.0, 20.0)
    calibration.refit()  # a restored state is fitted on every label; the live one may lag by a few

    restored = FamilyCalibration.from_json(json.loads(json.dumps(calibration.to_json())), offline_bar=0.0)

    assert restored.threshold(0.95) == pytest.approx(calibration.threshold(0.95), rel=0.01)  # int8 embeddings
    assert restored.answer_tokens(100.0) == pytest.approx(calibration.answer_tokens(100.0))
    for request in requests[:20]:
        before = calibration.estimate(request.embedding, request.offline_loss, 1.0)
        after = restored.estimate(request.embedding, request.offline_loss, 1.0)
        assert after.covered == before.covered
        assert after.loss == pytest.approx(before.loss, abs=0.02)  # embeddings persist as int8


def test_the_quality_reported_is_what_the_stream_kept_and_its_bound_is_below_it() -> None:
    assert FamilyCalibration().quality_lost(0.95) is None  # nothing to report without labels
    calibration = FamilyCalibration(offline_bar=0.0)
    outcome = run(calibration, clustered_traffic(2000, hard_loss_rate=0.6, seed=5, offline=inverted), seed=5)
    reported = calibration.quality_lost(0.95)
    assert reported is not None and outcome.cheap_share > 0.2
    estimate, upper = reported
    assert 0.0 < estimate <= upper <= 0.05  # the bound the floor holds
    assert abs((1 - estimate) - outcome.quality) < 0.03
