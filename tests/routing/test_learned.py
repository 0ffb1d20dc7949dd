"""The cost-aware rule itself: loss per token saved, and the threshold lookup by floor."""

from __future__ import annotations

import numpy as np
import pytest

from asahi.routing.learned import FamilyModel, LearnedRouter, goes_cheap, loss_per_saving, saving_tokens
from tests.routing.conftest import constant_family


def test_a_cheaper_model_needs_its_loss_paid_for_by_the_saving() -> None:
    assert goes_cheap(loss=0.05, saving=100.0, threshold=0.001)  # 0.05 ≤ 0.1
    assert not goes_cheap(loss=0.05, saving=10.0, threshold=0.001)  # the same loss, a tenth of the saving
    assert goes_cheap(loss=-0.01, saving=1.0, threshold=0.0)  # a predicted gain needs no saving to speak of
    assert not goes_cheap(loss=-0.01, saving=0.0, threshold=0.001)  # but something must be saved
    assert not goes_cheap(loss=-1.0, saving=100.0, threshold=-np.inf)  # "route nothing"


def test_loss_per_saving_ranks_long_safe_requests_first() -> None:
    loss = np.array([0.1, 0.1, 0.2, 0.0])
    saving = np.array([10.0, 1000.0, 1000.0, 0.0])
    ratio = loss_per_saving(loss, saving)
    assert list(np.argsort(ratio)) == [1, 2, 0, 3]  # the long prompt first; one that saves nothing last
    assert ratio[3] == np.inf


def test_saving_is_in_output_tokens_of_the_strong_model() -> None:
    assert saving_tokens(strong_cost=0.003, cost=0.0, strong_output_price=30.0) == pytest.approx(100.0)


def test_threshold_takes_the_stricter_calibrated_floor() -> None:
    family = constant_family(0.1)
    table = np.array([[0.003, 0.002, 0.0005], [0.03, 0.02, 0.005], [0.3, 0.2, 0.05]])  # open, choice, word problem
    model = LearnedRouter("test", (family, family, family), np.array([0.9, 0.95, 0.99]), table)
    assert model.threshold(0.95, 0) == pytest.approx(0.002)
    assert model.threshold(0.95, 1) == pytest.approx(0.02)
    assert model.threshold(0.96, 0) == pytest.approx(0.0005)  # between floors: the stricter one
    assert model.threshold(0.5, 0) == pytest.approx(0.003)  # below the range: the loosest
    assert model.threshold(1.0, 1) == pytest.approx(0.005)  # above it: the strictest
    assert model.threshold(0.95, 2) == pytest.approx(0.2)


def test_assess_reports_the_family_it_judged_by() -> None:
    families = (constant_family(0.1), constant_family(0.3), constant_family(0.5))
    model = LearnedRouter("test", families, np.array([0.9]), np.zeros((3, 1)))
    vector = np.zeros(384, np.float32)
    assert model.assess(vector, "Why?")[:3] == pytest.approx((0.1, 100.0, 0))
    assert model.assess(vector, "Why?\nA. yes\nB. no")[:3] == pytest.approx((0.3, 100.0, 1))
    problem = "Tom has 3 apples and buys 4 more. How many apples does he have?"
    assert model.assess(vector, problem)[:3] == pytest.approx((0.5, 100.0, 2))


def test_assess_reports_how_close_the_nearest_training_prompt_is() -> None:
    family = constant_family(0.1)
    family = FamilyModel(
        family.weights, family.bias, np.eye(2, 384, dtype=np.float32), np.zeros(2), np.zeros(2), 1.0, 0.1
    )
    model = LearnedRouter("test", (family,) * 3, np.array([0.9]), np.zeros((3, 1)))
    vector = np.zeros(384, np.float32)
    vector[:2] = (0.6, 0.8)
    assert model.assess(vector, "Why?").nearest == pytest.approx(0.8)


def test_a_model_needs_one_predictor_and_one_threshold_row_per_family() -> None:
    family = constant_family(0.1)
    with pytest.raises(ValueError, match="per family"):
        LearnedRouter("test", (family, family), np.array([0.9]), np.zeros((2, 1)))  # a two-family model file
    with pytest.raises(ValueError, match="per family"):
        LearnedRouter("test", (family, family, family), np.array([0.9]), np.zeros((2, 1)))
