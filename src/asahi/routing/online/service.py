"""Online routing per org: the interface the request path calls, and the per-org state it persists.

On each AUTOPILOT/GUIDED decision (after the offline model's `assess`):

    advice = online.advise(org_id, assessment, embedding, floor)
    # the rule as before, with advice.assessment (the org's loss and answer length) and advice.threshold;
    # advice.covered False → the strong model

then, once the model is chosen:

    p = online.shadow_probability(org_id, family, floor, relative_cost=...)
    # with probability p: label this request (the strong model answers, the cheap one runs off the path)

and, off the response path, `record` for every label (and `record_answer` for every answer's length). Cascade
mode uses `cascade_check` / `cascade_shadow_probability` / `cascade_record`. `org_state` / `load_org_state`
carry an org's whole state as JSON-ready dicts. No I/O, no clocks, no randomness: the caller draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from asahi.routing.learned import FAMILIES, Assessment, LearnedRouter
from asahi.routing.online.bound import Z
from asahi.routing.online.calibration import FamilyCalibration, Saving
from asahi.routing.online.cascade import CascadeCalibration
from asahi.routing.online.coverage import offline_bars

STATE_VERSION = 1


class Advice(NamedTuple):
    assessment: Assessment  # the offline assessment with the org's expected loss and answer length
    threshold: float  # λ for the floor in this family; -inf: nothing goes cheap
    covered: bool  # the org's labels cover this prompt; False: the strong model, and label it eagerly
    reason: str  # for the decision's reason string


@dataclass(slots=True)
class OrgRouting:
    """One org's calibrations, per family; created empty on first use."""

    families: dict[int, FamilyCalibration] = field(default_factory=dict)
    cascades: dict[int, CascadeCalibration] = field(default_factory=dict)


class OnlineRouting:
    """Per-org online calibration over one offline model. One per process; methods are CPU-only.

    `z` sets the confidence of every bound (1.645: one-sided 95%).
    """

    def __init__(self, model: LearnedRouter | None = None, z: float = Z) -> None:
        self._bars = offline_bars(model) if model is not None else (math.inf,) * len(FAMILIES)
        self._z = z
        self._orgs: dict[str, OrgRouting] = {}

    def _org(self, org_id: str) -> OrgRouting:
        return self._orgs.setdefault(org_id, OrgRouting())

    def family(self, org_id: str, family: int) -> FamilyCalibration:
        families = self._org(org_id).families
        if family not in families:
            families[family] = FamilyCalibration(offline_bar=self._bars[family], z=self._z)
        return families[family]

    def cascade(self, org_id: str, family: int) -> CascadeCalibration:
        return self._org(org_id).cascades.setdefault(family, CascadeCalibration(z=self._z))

    # --- routing ------------------------------------------------------------------------------------------
    def advise(
        self, org_id: str, assessment: Assessment, embedding: npt.NDArray[np.floating[Any]], floor: float
    ) -> Advice:
        """The org's view of one request: its loss and answer-length estimates, λ for `floor`, and coverage."""
        calibration = self.family(org_id, assessment.family)
        estimate = calibration.estimate(embedding, assessment.loss, assessment.nearest)
        adjusted = assessment._replace(
            loss=estimate.loss, answer_tokens=calibration.answer_tokens(assessment.answer_tokens)
        )
        threshold = calibration.threshold(floor)
        if not math.isfinite(threshold):
            reason = f"too few verified requests in family {FAMILIES[assessment.family]} yet"
        elif not estimate.covered:
            reason = "far from this organisation's verified requests"
        else:
            reason = f"calibrated on {len(calibration.evidence)} verified requests"
        return Advice(adjusted, threshold, estimate.covered, reason)

    def threshold(self, org_id: str, family: int, floor: float) -> float:
        return self.family(org_id, family).threshold(floor)

    def quality_report(self, org_id: str, floor: float) -> list[dict[str, Any]]:
        """Per family the org has traffic in: its labels, whether anything goes cheap, and the quality kept
        (1 − the estimated loss per request) with its lower confidence bound, the figure the floor holds."""
        report = []
        for family, calibration in sorted(self._org(org_id).families.items()):
            lost = calibration.quality_lost(floor)
            report.append({
                "family": FAMILIES[family],
                "labels": len(calibration.evidence),
                "routing_open": math.isfinite(calibration.threshold(floor)),
                "quality_kept": None if lost is None else round(1.0 - lost[0], 4),
                "quality_kept_lower_bound": None if lost is None else round(max(0.0, 1.0 - lost[1]), 4),
            })
        return report

    def guard(self, org_id: str, assessment: Assessment, embedding: npt.NDArray[np.floating[Any]]) -> bool:
        """True when the prompt may go cheap at all: the org's labels cover its region."""
        return self.family(org_id, assessment.family).estimate(embedding, assessment.loss, assessment.nearest).covered

    def shadow_probability(self, org_id: str, family: int, floor: float, *, relative_cost: float) -> float:
        """Counts the request and gives the probability with which to label it; `relative_cost`: what the label
        would add (the other model's call and any judge) over the strong model's cost for this request."""
        return self.family(org_id, family).shadow_probability(floor, relative_cost)

    def record(
        self,
        org_id: str,
        assessment: Assessment,
        embedding: npt.NDArray[np.floating[Any]],
        loss: float,
        *,
        saving: Saving,
        feedback: bool = False,
    ) -> None:
        """A label for a request assessed as `assessment` (the offline one, as `assess` returned it): `loss`
        from `labels.py`; `saving` of the cheap tier against the strong model; `feedback` for a user's verdict
        rather than a sampled comparison."""
        self.family(org_id, assessment.family).record(
            embedding,
            loss,
            offline_loss=assessment.loss,
            offline_tokens=assessment.answer_tokens,
            nearest=assessment.nearest,
            saving=saving,
            feedback=feedback,
        )

    def record_answer(self, org_id: str, family: int, offline_tokens: float, actual_tokens: float) -> None:
        """Any answer's length against the offline estimate for it: free, so call it for every response."""
        self.family(org_id, family).record_answer(offline_tokens, actual_tokens)

    # --- cascade ------------------------------------------------------------------------------------------
    def cascade_check(self, org_id: str, family: int, score: float, floor: float) -> bool:
        """Counts a cheap answer (verifier P(wrong) = `score`) and says whether to keep it rather than escalate."""
        return self.cascade(org_id, family).check(score, floor)

    def cascade_shadow_probability(self, org_id: str, family: int, floor: float, relative_cost: float = 1.0) -> float:
        return self.cascade(org_id, family).shadow_probability(floor, relative_cost)

    def cascade_record(self, org_id: str, family: int, score: float, loss: float) -> None:
        """An escalated answer, or a sampled kept one, compared with the strong answer."""
        self.cascade(org_id, family).record(score, loss)

    # --- persistence --------------------------------------------------------------------------------------
    def org_state(self, org_id: str) -> dict[str, Any]:
        org = self._org(org_id)
        return {
            "version": STATE_VERSION,
            "families": {FAMILIES[f]: c.to_json() for f, c in org.families.items()},
            "cascades": {FAMILIES[f]: c.to_json() for f, c in org.cascades.items()},
        }

    def load_org_state(self, org_id: str, state: dict[str, Any]) -> None:
        """Replace an org's state with a saved one; a state of another version is ignored (the org relearns)."""
        if state.get("version") != STATE_VERSION:
            return
        index = {name: i for i, name in enumerate(FAMILIES)}
        self._orgs[org_id] = OrgRouting(
            families={
                index[name]: FamilyCalibration.from_json(data, self._bars[index[name]], self._z)
                for name, data in state.get("families", {}).items()
            },
            cascades={
                index[name]: CascadeCalibration.from_json(data, self._z)
                for name, data in state.get("cascades", {}).items()
            },
        )
