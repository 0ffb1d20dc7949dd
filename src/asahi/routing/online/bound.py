"""The loosest threshold whose quality loss is still bounded: an upper confidence bound per threshold.

An org's labelled requests say, for any threshold λ on a score, how much quality sending the requests scored
at most λ to the cheap model would give up: L(λ) = E[1{score ≤ λ} · loss], the loss being a share of the strong
model's quality (strong − cheap, over the strong model's mean; negative when the cheap answer was better).
The bound adds z standard errors and a pessimistic prior: `PRIOR_LABELS` pseudo-labels at the worst loss,
spread like the real ones and counted in the variance too, so a handful of lucky labels never opens the gate
and "no evidence" means "nothing goes cheap".

Two ways the labels can relate to the traffic:
- `loss_bounds`: they are a simple random sample of it (routing labels each request with the same probability,
  whatever was decided for it);
- `stratified_loss_bounds`: they were picked by a score every request has (the cascade labels every answer it
  escalates and only a sample of those it keeps), so the traffic's own scores weigh them: L(λ) is the sum, over
  score strata, of the stratum's share of all requests times its labels' mean loss.

Thresholds are tested from the strictest upwards and the scan stops at the first that fails (fixed-sequence
testing), so the λ returned keeps the stated confidence although every candidate was looked at. A candidate
must send at least `MIN_ROUTED` labels cheap.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

Z = 1.645  # one-sided 95%
PRIOR_LABELS = 2.0  # pessimistic pseudo-labels; their weight fades as real ones accumulate
WORST_LOSS = 1.0  # the loss a pseudo-label carries: the cheap answer worth nothing
STRATA = (5, 40)  # the fewest and most score strata; √(labels) in between
# A threshold must send at least this many labels cheap to be considered: a region a handful of labels define
# says nothing about how much of the traffic falls in it.
MIN_ROUTED = 10


class Bounds(NamedTuple):
    """Per candidate threshold (ascending): λ, L̂(λ) and its upper confidence bound."""

    thresholds: Array
    estimate: Array
    upper: Array


def loss_bounds(scores: Array, losses: Array, z: float = Z, prior: float = PRIOR_LABELS) -> Bounds:
    """L̂(λ) and its bound at every λ where the set of labels sent cheap changes; labels a random sample.

    `scores`: each label's score (cheap when score ≤ λ; +inf never goes cheap); `losses`: its quality loss.
    """
    finite = np.isfinite(scores)
    n = len(scores)
    if not finite.any():
        empty = np.zeros(0)
        return Bounds(empty, empty, empty)
    order = np.argsort(scores[finite], kind="stable")
    s, y = scores[finite][order], losses[finite][order]
    last = np.r_[s[1:] != s[:-1], True]  # a threshold sends every label tied at it
    last &= np.arange(1, len(s) + 1) >= min(MIN_ROUTED, len(s))
    estimate = np.cumsum(y)[last] / n
    second = np.cumsum(y**2)[last] / n
    share = np.cumsum(np.ones(len(y)))[last] / n
    variance = np.maximum(second - estimate**2, 0.0) / n  # of the mean of 1{score ≤ λ} · loss
    pessimistic = (estimate * n + prior * share * WORST_LOSS) / (n + prior)
    variance = variance + prior * share * WORST_LOSS**2 / (n + prior) ** 2
    return Bounds(s[last], estimate, pessimistic + z * np.sqrt(variance))


def stratified_loss_bounds(
    traffic: Array, scores: Array, losses: Array, z: float = Z, prior: float = PRIOR_LABELS
) -> Bounds:
    """L̂(λ) and its bound at each stratum edge, when labels were picked by score: `traffic` holds the scores
    of all recent requests, labelled or not; the strata are its quantiles. A stratum without labels cannot
    pass, nor can anything above it."""
    if not len(traffic) or not len(scores):
        empty = np.zeros(0)
        return Bounds(empty, empty, empty)
    count = int(np.clip(round(len(scores) ** 0.5), *STRATA))
    edges = np.unique(np.quantile(traffic, np.linspace(0.0, 1.0, count + 1)[1:]))
    edges[-1] = np.inf
    traffic_stratum = np.searchsorted(edges, traffic, side="left")
    label_stratum = np.searchsorted(edges, scores, side="left")
    share = np.bincount(traffic_stratum, minlength=len(edges)) / len(traffic)
    labels = np.bincount(label_stratum, minlength=len(edges)).astype(np.float64)
    sums = np.bincount(label_stratum, weights=losses, minlength=len(edges))
    squares = np.bincount(label_stratum, weights=losses**2, minlength=len(edges))
    pseudo = prior / len(edges)  # the prior's pseudo-labels, spread over the strata
    mean = (sums + pseudo * WORST_LOSS) / (labels + pseudo)
    spread = np.maximum((squares + pseudo * WORST_LOSS**2) / (labels + pseudo) - mean**2, 0.0)
    estimate = np.cumsum(share * np.where(labels > 0, sums / np.maximum(labels, 1), 0.0))
    upper = np.cumsum(share * mean) + z * np.sqrt(np.cumsum(share**2 * spread / (labels + pseudo)))
    upper[np.cumsum(labels == 0) > 0] = np.inf  # no evidence in a stratum: it and all above stay closed
    return Bounds(edges, estimate, upper)


def operating_point(bounds: Bounds, budget: float) -> tuple[float, float]:
    """(λ, uncertainty): the largest threshold whose bound is within `budget` (1 − the floor), scanning from the
    strictest and stopping at the first failure (-inf when the strictest fails); and the bound's width over the
    budget at that first failure, the threshold more labels could open (at the loosest when none failed; inf
    without labels). A large uncertainty says labels would pay; a small one that the bound is settled."""
    if not len(bounds.thresholds):
        return -np.inf, np.inf
    failing = np.flatnonzero(bounds.upper > budget)
    passed = len(bounds.thresholds) if not failing.size else int(failing[0])
    threshold = float(bounds.thresholds[passed - 1]) if passed else -np.inf
    probe = min(passed, len(bounds.thresholds) - 1)
    return threshold, float(bounds.upper[probe] - bounds.estimate[probe]) / max(budget, 1e-9)
