"""Coverage: the bar is relative to how closely a set's own prompts sit."""

from __future__ import annotations

import math

import numpy as np

from asahi.routing.online.coverage import coverage_bar, offline_bars
from tests.routing.conftest import fixed_router


def unit_rows(count: int, seed: int, spread: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows = np.ones((count, 8)) + rng.normal(0, spread, (count, 8))
    result: np.ndarray = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return result


def loo(rows: np.ndarray) -> np.ndarray:
    similarities = rows @ rows.T
    np.fill_diagonal(similarities, -np.inf)
    return similarities


def test_a_tight_set_has_a_high_bar_and_a_loose_one_a_low_bar() -> None:
    assert coverage_bar(loo(unit_rows(200, 0, 0.1))) > coverage_bar(loo(unit_rows(200, 0, 2.0)))


def test_one_prompt_covers_nothing() -> None:
    assert coverage_bar(loo(unit_rows(1, 0, 0.1))) == math.inf


def test_offline_bars_one_per_family() -> None:
    bars = offline_bars(fixed_router(0.1))  # one neighbour per family: nothing is covered
    assert len(bars) == 3
    assert all(b == math.inf for b in bars)
