"""One org's routing in one prompt family, calibrated on its own labels: the loss estimate, λ and the sampling rate.

The offline model was trained on public sets; an org's traffic is never those sets, and on a set it never saw
its loss estimate can be uncorrelated with the truth. So each org and family keeps its own labels
(`evidence.py`) and from them:

- **the expected loss** of a request, stacked from three estimates fitted on the labels: the org's mean, the
  offline model's estimate (only where the prompt is close to the offline training prompts; `coverage.py`), and
  a kernel average over the org's most similar labels. The weights come from a ridge fit on the labels (each
  label estimated without itself), so an offline model that is right on this traffic keeps its say and one that
  is not loses it;
- **λ for a floor**: the loosest threshold whose upper confidence bound on the quality lost stays within
  1 − floor (`bound.py`), from the labels' own leave-one-out scores, a label far from every other label counted
  as not routed (as such a request would not be). Fewer than `MIN_LABELS` labels, no λ: nothing goes cheap;
- **the sampling rate**: the same for every request of the family at a given time, whatever was decided for
  it, so the labels are a random sample of the traffic and need no weights. High while the bound is loose
  (more labels would let more traffic go cheap), a few per cent once settled, and scaled to what a label costs
  on average (the cheap model's call on a request that went strong, the strong model's on one that went
  cheap, plus any judge) so verification stays a small share of spend;
- **the answer length**: the org's answers, shorter or longer than the offline model expected for this family,
  shift its length estimate (in log space), which moves the saving the cost-aware rule weighs.

Everything here is CPU-only and I/O-free; `to_json`/`from_json` carry the state, and what a refit computes is
rebuilt from it on load.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from asahi.routing.learned import MIN_SAVING
from asahi.routing.online.bound import Z, loss_bounds, operating_point
from asahi.routing.online.coverage import coverage_bar
from asahi.routing.online.evidence import Evidence, kernel_means

Array = npt.NDArray[np.float64]

MIN_LABELS = 30  # sampled labels before anything in the family goes cheap
REFIT_GROWTH = 0.05  # refit when the labels have grown by this share since the last fit (and by one at least)
STACK_L2 = 10.0  # ridge penalty on the two stacked estimates, in labels' worth of evidence for weight zero
# Sampling: at most SHADOW_MAX of requests, or what spends SPEND of the strong model's cost on labels, while
# uncertain; SHADOW_MIN once settled. Settled means the bound's width at the next threshold to open is below
# SETTLED × the loss budget; fully uncertain above UNSETTLED ×. The average label cost is tracked over
# COST_WINDOW requests (exponential decay).
SHADOW_MAX = 1.0
SHADOW_MIN = 0.02
SPEND = 0.05
SETTLED, UNSETTLED = 0.25, 1.0
COST_WINDOW = 200
LENGTH_PRIOR = 5.0  # answers before the org's own length shift counts half
LENGTH_WINDOW = 500  # answers over which the length shift is averaged (exponential decay)


class Saving(NamedTuple):
    """What sending a request to the cheap tier saves, in output tokens of the strong model, as a function of the
    answer's length: `fixed` + `per_token` × answer tokens (the prompt's part and the answer's part)."""

    fixed: float
    per_token: float

    def at(self, answer_tokens: float) -> float:
        return self.fixed + self.per_token * answer_tokens


class Estimate(NamedTuple):
    loss: float  # expected share of the strong model's quality lost on the cheap tier
    covered: bool  # close enough to the org's labels for a cheap route to be considered


class _Fit(NamedTuple):
    """What a refit derives from the labels; never persisted."""

    mean: float
    offline_weight: float
    offline_centre: float
    neighbour_weight: float
    neighbour_centre: float
    bar: float  # coverage bar of the org's labels
    scores: Array  # each sampled label's leave-one-out routing score (loss / saving); +inf when uncovered
    losses: Array  # and its loss, as of the fit


@dataclass(slots=True)
class FamilyCalibration:
    """Persist with `to_json`; `offline_bar` is the offline model's coverage bar for the family (not persisted:
    it belongs to the model, not the org)."""

    offline_bar: float = math.inf
    z: float = Z
    evidence: Evidence = field(default_factory=Evidence)
    length_shift: float = 0.0  # decayed mean of log1p(actual answer tokens) − log1p(offline estimate)
    answers: float = 0.0  # decayed count behind it
    label_cost: float = 0.0  # decayed mean cost of labelling a request, over the strong model's cost for it
    requests: float = 0.0  # decayed count behind it
    _fit: _Fit | None = None
    _since_fit: int = 0  # labels recorded since the last fit (old ones age out at the cap, so not a length)
    _thresholds: dict[float, tuple[float, float]] = field(default_factory=dict)  # floor → (λ, uncertainty)

    # --- the decision -------------------------------------------------------------------------------------
    def estimate(self, embedding: npt.NDArray[np.floating[Any]], offline_loss: float, nearest: float) -> Estimate:
        """The org's expected loss for a request and whether its labels cover it (one pass over the labels)."""
        fit = self._fit
        if fit is None:
            return Estimate(offline_loss, False)
        similarities = self.evidence.similarities(embedding)
        neighbours = float(kernel_means(similarities[None, :], self.evidence["loss"], fit.mean)[0])
        offline = offline_loss if nearest >= self.offline_bar else fit.offline_centre
        loss = (
            fit.mean
            + fit.offline_weight * (offline - fit.offline_centre)
            + fit.neighbour_weight * (neighbours - fit.neighbour_centre)
        )
        return Estimate(loss, bool(similarities.max() >= fit.bar))

    def threshold(self, floor: float) -> float:
        """λ for `floor`: loss ≤ λ × saving (strong output tokens) goes cheap; -inf while evidence is short."""
        return self._operating(floor)[0]

    def quality_lost(self, floor: float) -> tuple[float, float] | None:
        """(estimate, upper bound) of the share of the strong model's quality lost per request at the threshold
        in force for `floor`, from the sampled labels; (0, 0) while nothing goes cheap, None without labels."""
        fit = self._fit
        if fit is None or not len(fit.scores):
            return None
        threshold = self._operating(floor)[0]
        bounds = loss_bounds(fit.scores, fit.losses, self.z)
        at = np.flatnonzero(bounds.thresholds <= threshold)
        if not math.isfinite(threshold) or not at.size:
            return 0.0, 0.0
        return float(bounds.estimate[at[-1]]), float(bounds.upper[at[-1]])

    def answer_tokens(self, offline_tokens: float) -> float:
        """The offline answer-length estimate moved by the org's own answers in this family."""
        return float(self._answer_tokens(np.array([offline_tokens]))[0])

    def _answer_tokens(self, offline_tokens: Array) -> Array:
        shift = self.length_shift * self.answers / (self.answers + LENGTH_PRIOR)
        result: Array = np.maximum(np.expm1(np.log1p(np.maximum(offline_tokens, 0.0)) + shift), 0.0)
        return result

    def shadow_probability(self, floor: float, relative_cost: float) -> float:
        """Counts one request and says how likely it should be labelled. `relative_cost` is what labelling it
        would add (the other model's call plus any judge) over the strong model's cost of answering it; the
        rate follows the average of that, never this request's own, so every request has the same chance."""
        decay = 1.0 - 1.0 / COST_WINDOW
        self.requests = self.requests * decay + 1.0
        self.label_cost += (max(relative_cost, 0.0) - self.label_cost) / self.requests
        high = min(SHADOW_MAX, SPEND / max(self.label_cost, 1e-9))
        low = min(SHADOW_MIN, high)
        uncertainty = self._operating(floor)[1]
        share = min(max((uncertainty - SETTLED) / (UNSETTLED - SETTLED), 0.0), 1.0)
        return low + share * (high - low)

    # --- learning -----------------------------------------------------------------------------------------
    def record(
        self,
        embedding: npt.NDArray[np.floating[Any]],
        loss: float,
        *,
        offline_loss: float,
        offline_tokens: float,
        nearest: float,
        saving: Saving,
        feedback: bool = False,
    ) -> None:
        """One label: `loss` as a share of the strong model's quality, and what the offline model said.
        Feedback is no random sample of the traffic: it informs the estimates, never the bound."""
        self.evidence.add(
            embedding,
            loss=loss,
            offline_loss=offline_loss,
            offline_similarity=nearest,
            offline_tokens=offline_tokens,
            saving_fixed=saving.fixed,
            saving_per_token=saving.per_token,
            sampled=0.0 if feedback else 1.0,
        )
        self._since_fit += 1
        if self._fit is None or self._since_fit >= max(1.0, REFIT_GROWTH * len(self.evidence)):
            self.refit()

    def record_answer(self, offline_tokens: float, actual_tokens: float) -> None:
        decay = 1.0 - 1.0 / LENGTH_WINDOW
        gap = math.log1p(max(actual_tokens, 0.0)) - math.log1p(max(offline_tokens, 0.0))
        self.answers = self.answers * decay + 1.0
        self.length_shift += (gap - self.length_shift) / self.answers

    def refit(self) -> None:
        """Redo the fit and the thresholds of every floor asked for so far. O(labels²): `record` calls it once
        `REFIT_GROWTH` of the labels are new, so it runs off the request path (tens of ms at the label cap)."""
        floors = list(self._thresholds)
        self._thresholds.clear()
        self._fit = self._fitted() if len(self.evidence) >= 2 else None
        self._since_fit = 0
        for floor in floors:
            self._operating(floor)

    def _fitted(self) -> _Fit:
        ev = self.evidence
        y = ev["loss"]
        n = len(y)
        similarities = ev.leave_one_out_similarities()
        others_mean = (y.sum() - y) / (n - 1)
        neighbours = kernel_means(similarities, y, others_mean)  # each label by the others
        offline_covered = ev["offline_similarity"] >= self.offline_bar
        mean = float(y.mean())
        offline_centre = float(ev["offline_loss"][offline_covered].mean()) if offline_covered.any() else 0.0
        offline = np.where(offline_covered, ev["offline_loss"], offline_centre)
        design = np.stack([offline - offline_centre, neighbours - neighbours.mean()], axis=1)
        beta = _stack(design, y - mean)
        predicted = mean + design @ beta
        bar = coverage_bar(similarities)
        covered = similarities.max(axis=1) >= bar
        saving = ev["saving_fixed"] + ev["saving_per_token"] * self._answer_tokens(ev["offline_tokens"])
        scores = np.where(covered & (saving > MIN_SAVING), predicted / np.maximum(saving, MIN_SAVING), np.inf)
        sampled = ev["sampled"] > 0
        return _Fit(
            mean,
            float(beta[0]),
            offline_centre,
            float(beta[1]),
            float(neighbours.mean()),
            bar,
            scores[sampled],
            y[sampled],
        )

    def _operating(self, floor: float) -> tuple[float, float]:
        """(λ, uncertainty) for `floor` (`bound.operating_point`), cached until the next refit."""
        fit = self._fit
        key = round(floor, 4)
        if fit is None or len(fit.scores) < MIN_LABELS:
            return -math.inf, math.inf
        if key not in self._thresholds:
            self._thresholds[key] = operating_point(loss_bounds(fit.scores, fit.losses, self.z), 1.0 - floor)
        return self._thresholds[key]

    # --- persistence --------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "evidence": self.evidence.to_json(),
            "length_shift": self.length_shift,
            "answers": self.answers,
            "label_cost": self.label_cost,
            "requests": self.requests,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], offline_bar: float = math.inf, z: float = Z) -> FamilyCalibration:
        """The saved state, refitted (call off the request path)."""
        calibration = cls(
            offline_bar=offline_bar,
            z=z,
            evidence=Evidence.from_json(data["evidence"]),
            length_shift=float(data.get("length_shift", 0.0)),
            answers=float(data.get("answers", 0.0)),
            label_cost=float(data.get("label_cost", 0.0)),
            requests=float(data.get("requests", 0.0)),
        )
        calibration.refit()
        return calibration


def _stack(design: Array, target: Array) -> Array:
    """Ridge weights of the stacked estimates, none negative (a higher estimate never means a lower loss): the
    best of the fits on every subset of the columns whose weights all come out non-negative. Two columns, so
    trying the subsets is exact and cheap."""
    scale = design.std(axis=0) + 1e-9
    standard = design / scale
    best, best_cost = np.zeros(design.shape[1]), float(target @ target)
    for subset in ([0, 1], [0], [1]):
        columns = standard[:, subset]
        weights = np.linalg.solve(columns.T @ columns + STACK_L2 * np.eye(len(subset)), columns.T @ target)
        if (weights < 0).any():
            continue
        residual = target - columns @ weights
        cost = float(residual @ residual + STACK_L2 * weights @ weights)
        if cost < best_cost:
            best, best_cost = np.zeros(design.shape[1]), cost
            best[subset] = weights
    result: Array = best / scale
    return result
