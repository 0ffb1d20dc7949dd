from __future__ import annotations

import numpy as np
import pytest

from asahi.routing.training.datasets import RoutingExample
from asahi.routing.training.evaluation import random_curve, router_curve, saving_at


def row(cheap_q: float, strong_q: float) -> RoutingExample:
    return RoutingExample("t", "x", cheap_q, strong_q, 0.0, 1.0, False)


ROWS = [row(1, 1), row(0, 1), row(1, 1), row(0, 0)]


def test_router_curve_runs_from_all_strong_to_all_cheap() -> None:
    curve = router_curve(ROWS, np.array([0.9, 0.1, 0.8, 0.7]))
    assert curve[0] == (1.0, 1.0)
    assert curve[-1] == (0.0, pytest.approx(2 / 3))
    assert curve[3] == (0.25, 1.0)  # the three safe rows went cheap first


def test_saving_at_finds_the_cheapest_point_meeting_quality() -> None:
    curve = router_curve(ROWS, np.array([0.9, 0.1, 0.8, 0.7]))
    assert saving_at(curve, 1.0) == pytest.approx(0.75)
    assert saving_at(curve, 0.0) == pytest.approx(1.0)


def test_saving_interpolates_between_points() -> None:
    assert saving_at([(1.0, 1.0), (0.0, 0.9)], 0.95) == pytest.approx(0.5)


def test_random_curve_is_the_straight_line() -> None:
    curve = random_curve(ROWS, points=3)
    assert curve == [(1.0, 1.0), (0.5, pytest.approx(5 / 6)), (0.0, pytest.approx(2 / 3))]
    assert saving_at(curve, 0.95) == pytest.approx(0.15)
