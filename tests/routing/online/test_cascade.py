"""Cascade calibration: escalate until the labels show which verifier scores are safe to keep."""

from __future__ import annotations

import json

import numpy as np
import pytest

from asahi.routing.online.calibration import MIN_LABELS
from asahi.routing.online.cascade import CascadeCalibration

FLOOR = 0.95


def run(calibration: CascadeCalibration, count: int, seed: int) -> tuple[float, float]:
    """Word problems whose cheap answer is wrong with probability = its verifier score (a calibrated check);
    returns (quality kept, share of cheap answers kept)."""
    rng = np.random.default_rng(seed)
    lost = kept = 0.0
    for _ in range(count):
        score = float(rng.beta(1, 3))
        loss = float(rng.random() < score)
        if calibration.check(score, FLOOR):
            if rng.random() < calibration.shadow_probability(FLOOR):
                calibration.record(score, loss)  # checked: the strong answer is served
            else:
                lost += loss
                kept += 1
        else:
            calibration.record(score, loss)  # escalated: both answers exist
    return 1 - lost / count, kept / count


def test_nothing_is_kept_before_enough_labels() -> None:
    calibration = CascadeCalibration()
    for _ in range(MIN_LABELS - 1):
        calibration.record(0.0, 0.0)
    assert not calibration.check(0.0, FLOOR)


@pytest.mark.parametrize("seed", [0, 1])
def test_low_scores_are_kept_and_the_floor_holds(seed: int) -> None:
    calibration = CascadeCalibration()
    quality, kept = run(calibration, 4000, seed)
    assert quality >= FLOOR
    assert kept > 0.15
    assert calibration.check(0.01, FLOOR)
    assert not calibration.check(0.9, FLOOR)


def test_state_round_trips() -> None:
    calibration = CascadeCalibration()
    run(calibration, 1500, seed=2)
    restored = CascadeCalibration.from_json(json.loads(json.dumps(calibration.to_json())))
    assert restored.threshold(FLOOR) == pytest.approx(calibration.threshold(FLOOR), abs=1e-4)


def test_mismatched_state_is_rejected() -> None:
    with pytest.raises(ValueError, match="differ"):
        CascadeCalibration.from_json({"traffic": [], "scores": [0.1], "losses": []})
