"""Cascade mode: keep the cheap answer when the check says it is fine, escalate to the strong model otherwise.

The check's score is the verifier's P(wrong) for the answer (`routing/verifier.py`); which scores are safe to
keep is calibrated per org and family with the same kind of bound as routing: the loosest threshold whose upper
confidence bound on the quality lost stays within 1 − floor. Labels are cheap here: an escalated request has
both answers, so every escalation is a label; a kept answer is labelled only when sampled (the strong model is
then called too). As labels are picked by score, the bound weighs them by the scores of all recent requests
(`bound.stratified_loss_bounds`), which the cascade therefore counts. Until `MIN_LABELS` labels exist nothing
is kept, so a new org pays for the cheap call plus the strong one for a while and gets the strong answers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from asahi.routing.online.bound import Z, operating_point, stratified_loss_bounds
from asahi.routing.online.calibration import MIN_LABELS, SETTLED, SHADOW_MAX, SHADOW_MIN, SPEND, UNSETTLED

MAX_LABELS = 3000  # two floats each: small enough to persist whole
MAX_TRAFFIC = 5000  # recent requests' scores, the strata's weights


@dataclass(slots=True)
class CascadeCalibration:
    """Recent requests' scores and the labels (score, quality lost), oldest first. Persist with `to_json`."""

    z: float = Z
    traffic: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    _thresholds: dict[float, tuple[float, float]] = field(default_factory=dict)  # floor → (λ, uncertainty)

    def check(self, score: float, floor: float) -> bool:
        """Counts one cheap answer whose verifier score is `score` and says whether to keep it."""
        self.traffic.append(float(score))
        if len(self.traffic) > MAX_TRAFFIC:
            del self.traffic[0]
        return score <= self.threshold(floor)

    def threshold(self, floor: float) -> float:
        return self._operating(floor)[0]

    def shadow_probability(self, floor: float, relative_cost: float = 1.0) -> float:
        """How likely a kept answer should also be compared with the strong model's (`relative_cost`: that
        call plus any judge, over the strong call's cost)."""
        high = min(SHADOW_MAX, SPEND / max(relative_cost, 1e-9))
        low = min(SHADOW_MIN, high)
        uncertainty = self._operating(floor)[1]
        share = min(max((uncertainty - SETTLED) / (UNSETTLED - SETTLED), 0.0), 1.0)
        return low + share * (high - low)

    def record(self, score: float, loss: float) -> None:
        """A label: an escalated answer, or a sampled kept one, compared with the strong answer."""
        self.scores.append(float(score))
        self.losses.append(float(loss))
        if len(self.scores) > MAX_LABELS:
            del self.scores[0], self.losses[0]
        self.recompute()

    def recompute(self) -> None:
        """Redo the threshold of every floor asked for so far (~1 ms at the caps): after each label, off the
        request path; the traffic counted since then moves the strata only slowly."""
        floors = list(self._thresholds)
        self._thresholds.clear()
        for floor in floors:
            self._operating(floor)

    def _operating(self, floor: float) -> tuple[float, float]:
        if len(self.scores) < MIN_LABELS or not self.traffic:
            return -math.inf, math.inf
        key = round(floor, 4)
        if key not in self._thresholds:
            bounds = stratified_loss_bounds(
                np.array(self.traffic), np.array(self.scores), np.array(self.losses), self.z
            )
            self._thresholds[key] = operating_point(bounds, 1.0 - floor)
        return self._thresholds[key]

    def to_json(self) -> dict[str, Any]:
        return {
            "traffic": [round(v, 5) for v in self.traffic],
            "scores": [round(v, 5) for v in self.scores],
            "losses": [round(v, 5) for v in self.losses],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], z: float = Z) -> CascadeCalibration:
        scores, losses = ([float(v) for v in data[k]] for k in ("scores", "losses"))
        if len(scores) != len(losses):
            raise ValueError("cascade labels differ in length")
        return cls(z, [float(v) for v in data.get("traffic", [])], scores, losses)
