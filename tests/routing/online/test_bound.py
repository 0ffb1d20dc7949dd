"""The threshold bound: pessimistic with few labels, opening as evidence accumulates, never past a bad region."""

from __future__ import annotations

import numpy as np

from asahi.routing.online.bound import (
    MIN_ROUTED,
    Bounds,
    loss_bounds,
    operating_point,
    stratified_loss_bounds,
)

BUDGET = 0.05


def test_no_labels_no_threshold() -> None:
    bounds = loss_bounds(np.zeros(0), np.zeros(0))
    assert operating_point(bounds, BUDGET) == (-np.inf, np.inf)


def test_unroutable_labels_give_no_threshold() -> None:
    bounds = loss_bounds(np.full(50, np.inf), np.zeros(50))
    assert operating_point(bounds, BUDGET)[0] == -np.inf


def test_a_few_perfect_labels_do_not_open_the_gate() -> None:
    scores = np.arange(5.0)
    assert operating_point(loss_bounds(scores, np.zeros(5)), BUDGET)[0] < 4.0


def test_many_perfect_labels_open_it_all() -> None:
    scores = np.arange(2000.0)
    assert operating_point(loss_bounds(scores, np.zeros(2000)), BUDGET)[0] == 1999.0


def test_the_threshold_stops_before_the_region_that_loses() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random(3000)
    losses = np.where(scores < 0.5, rng.random(3000) < 0.01, rng.random(3000) < 0.6).astype(float)
    threshold, _ = operating_point(loss_bounds(scores, losses), BUDGET)
    assert 0.3 < threshold < 0.6
    # what the threshold routes really keeps the budget
    assert (losses * (scores <= threshold)).mean() <= BUDGET


def test_the_bound_sits_above_the_estimate_and_tightens_with_labels() -> None:
    rng = np.random.default_rng(1)

    def width(n: int) -> float:
        bounds = loss_bounds(rng.random(n), (rng.random(n) < 0.1).astype(float))
        return float(bounds.upper[-1] - bounds.estimate[-1])

    small, large = width(100), width(10_000)
    assert small > large > 0


def test_ties_are_one_threshold() -> None:
    bounds = loss_bounds(np.array([1.0] * 12 + [2.0] * 3), np.zeros(15))
    assert list(bounds.thresholds) == [1.0, 2.0]


def test_a_threshold_sends_at_least_a_few_labels_cheap() -> None:
    # Every label a full loss: one label's sliver would fit the budget, but a sliver that thin says nothing
    # about how much traffic it holds.
    bounds = loss_bounds(np.arange(100.0), np.ones(100))
    assert bounds.thresholds[0] == MIN_ROUTED - 1
    assert operating_point(bounds, BUDGET)[0] == -np.inf


def test_a_scan_stops_at_the_first_failure() -> None:
    bounds = Bounds(np.array([1.0, 2.0, 3.0]), np.zeros(3), np.array([0.01, 0.09, 0.01]))
    threshold, uncertainty = operating_point(bounds, BUDGET)
    assert threshold == 1.0  # 3.0 passes too, but the test sequence stopped at 2.0
    assert uncertainty == 0.09 / BUDGET


def test_stratified_bound_weighs_strata_by_the_traffic() -> None:
    rng = np.random.default_rng(2)
    traffic = rng.random(5000)
    # Labels: every request above 0.5 (escalated), a 5% sample below; losses only above 0.7.
    above = traffic[traffic > 0.5]
    below = traffic[traffic <= 0.5][:125]
    scores = np.concatenate([below, above])
    losses = (scores > 0.7).astype(float)
    bounds = stratified_loss_bounds(traffic, scores, losses)
    threshold, _ = operating_point(bounds, BUDGET)
    assert 0.4 <= threshold <= 0.75
    # Unweighted, the labels would say the low region is a sixth of the traffic; the traffic says half.
    low = bounds.thresholds <= 0.5
    assert abs(bounds.estimate[low][-1]) < 1e-9


def test_a_stratum_without_labels_blocks_everything_above_it() -> None:
    traffic = np.linspace(0, 1, 1000)
    scores = np.linspace(0.5, 1, 400)  # nothing labelled below 0.5
    bounds = stratified_loss_bounds(traffic, scores, np.zeros(400))
    assert operating_point(bounds, BUDGET)[0] == -np.inf
