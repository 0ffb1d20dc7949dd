"""Cost against quality for a router's scores on labelled rows, and the saving at a quality target.

Sending the k highest-scored rows to the cheap model, for every k, traces the router's whole curve at once; a
threshold on the score is just one point on it. Shares are relative to always using the strong model, so sets
with different quality scales (accuracy, 1–10 grades, win rates) read the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from asahi.routing.training.datasets import RoutingExample

Curve = list[tuple[float, float]]  # (cost share, quality share) of always-strong, from all-strong to all-cheap


def _columns(rows: Sequence[RoutingExample]) -> tuple[npt.NDArray[np.float64], ...]:
    return tuple(
        np.array([getattr(r, name) for r in rows], dtype=np.float64)
        for name in ("cheap_quality", "strong_quality", "cheap_cost", "strong_cost")
    )


def router_curve(rows: Sequence[RoutingExample], scores: npt.NDArray[np.float64]) -> Curve:
    """One point per k: the k rows scored most likely fine on the cheap model go to it."""
    cheap_q, strong_q, cheap_c, strong_c = _columns(rows)
    order = np.argsort(-scores, kind="stable")
    quality = (strong_q.sum() + np.concatenate([[0.0], np.cumsum((cheap_q - strong_q)[order])])) / strong_q.sum()
    cost = (strong_c.sum() + np.concatenate([[0.0], np.cumsum((cheap_c - strong_c)[order])])) / strong_c.sum()
    return [(float(c), float(q)) for c, q in zip(cost, quality, strict=True)]


def random_curve(rows: Sequence[RoutingExample], points: int = 21) -> Curve:
    """The expected curve of sending a random share of rows to the cheap model: a straight line."""
    cheap_q, strong_q, cheap_c, strong_c = _columns(rows)
    q_ratio, c_ratio = cheap_q.sum() / strong_q.sum(), cheap_c.sum() / strong_c.sum()
    shares = np.linspace(0.0, 1.0, points)
    return [(float(1 - f + f * c_ratio), float(1 - f + f * q_ratio)) for f in shares]


def saving_at(curve: Curve, quality: float) -> float:
    """The largest share of the always-strong cost saved while keeping `quality` of its quality.

    Points of a curve are joined by straight lines, as a router can mix two thresholds at random.
    """
    best = 0.0
    for (c0, q0), (c1, q1) in pairwise(curve):
        if q0 >= quality:
            best = max(best, 1 - c0)
        if q1 >= quality:
            best = max(best, 1 - c1)
        elif q0 > quality:  # the target lies between the two points
            t = (q0 - quality) / (q0 - q1)
            best = max(best, 1 - (c0 + t * (c1 - c0)))
    if len(curve) == 1 and curve[0][1] >= quality:
        best = 1 - curve[0][0]
    return best
