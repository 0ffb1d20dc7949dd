"""Is a prompt covered by a set of prompts we have labels for? The distribution-shift guard.

A prompt is covered when its nearest labelled prompt is at least as similar as the nearest neighbour of all but
`QUANTILE` of the set's own members (each judged against the others). The bar is relative to the set's own
spacing, not an absolute cosine: diverse chat traffic has nearest neighbours near 0.35, exam questions near
0.6, and an absolute bar would either block the first or wave through anything near the second. A prompt below
the bar sits in a region the labels do not speak for: the offline model's estimate is not used there, and a
region no org label covers is sent to the strong model until labels arrive (and sampled for them eagerly).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from asahi.routing.learned import LearnedRouter

Array = npt.NDArray[np.float64]

QUANTILE = 0.05
REFERENCE_SAMPLE = 500  # training prompts per family the offline bar is measured on (fixed seed)


def coverage_bar(leave_one_out: Array) -> float:
    """The bar from a members × members similarity matrix whose diagonal is excluded (-inf)."""
    if leave_one_out.shape[0] < 2:
        return np.inf
    nearest = leave_one_out.max(axis=1)
    return float(np.quantile(nearest[np.isfinite(nearest)], QUANTILE))


def offline_bars(model: LearnedRouter) -> tuple[float, ...]:
    """The bar of each family's training prompts in the shipped model, one per family.

    Measured once per process on a fixed sample of each family's prompts against all of them (~0.1 s).
    """
    bars = []
    rng = np.random.default_rng(0)
    for family in model.families:
        neighbours = family.neighbours
        if len(neighbours) < 2:
            bars.append(np.inf)
            continue
        picks = rng.choice(len(neighbours), min(REFERENCE_SAMPLE, len(neighbours)), replace=False)
        similarities = (neighbours[picks] @ neighbours.T).astype(np.float64)
        similarities[np.arange(len(picks)), picks] = -np.inf
        bars.append(coverage_bar(similarities))
    return tuple(bars)
