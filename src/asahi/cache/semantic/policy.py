"""When may a tier 2 candidate be served? A learned, bounded rule instead of one static threshold.

After vCache ("Verified Semantic Prompt Caching", arXiv 2502.03771): the probability that serving entry e for a
prompt at cosine similarity s is correct is modelled as a sigmoid, P(correct | s, e) = σ(γ · (s − t_e)). Unlike a
static threshold, every entry gets its own decision boundary t_e, learned from the labels it collects.

Reimplemented from the idea, not from vCache's code, with two choices of ours:
- Entries see few labels, so t_e is shrunk towards an org-wide fit (γ, t₀) from all the org's labels (empirical
  Bayes): a new entry starts from what the org has learned and moves as its own evidence arrives.
- δ bounds the org's false-hit rate, wrong hits / lookups (vCache's error rate), and the budget is meant to be
  spent, not saved. Each candidate's error is estimated as 1 − a lower bound on P(correct) (z = 0.5, about a
  69% one-sided bound), carrying the uncertainty of the org fit (Laplace approximation) and of the entry's
  offset, so with no labels nothing hits. The budget goes to the surest candidates: a hit is served when its
  estimated error is at most the threshold at which the org's recent best candidates, all served, would have
  cost δ per lookup, and only while the estimated errors of its served hits stay within δ times its lookups
  (both decayed over a window of recent lookups). A candidate more likely wrong than right is never served.
  Estimates are calibrated against what verification finds on would-be hits (`calibration`). In
  bench/semantic_eval.py (MiniLM alone, before calibration) a 95% bound (z = 1.645) left most of the budget
  unspent, and the mean (z = 0) overshot δ on QQP and MRPC, whose labels are noisy even at high similarity.

Labels are cheap: a candidate that is not served goes upstream anyway, so comparing the fresh answer with the
entry's answer labels (s, correct) at no extra provider cost. Only sampled checks of confident hits cost a call.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAX_ENTRY_LABELS = 32  # the most recent labels an entry keeps (its persisted state stays small)
MAX_ORG_LABELS = 4000  # the most recent labels the org-wide fit uses
REFIT_EVERY = 25  # refit the org model after this many new labels
PRIOR_T0 = (0.92, 0.08)  # mean, sd of the org boundary before any label: cautious
PRIOR_GAMMA = (25.0, 12.0)  # mean, sd of the sigmoid steepness
ENTRY_OFFSET_SD = 0.04  # how far one entry's boundary may sit from its org's (prior sd); tuned in the eval
Z = 0.5  # a one-sided ~69% bound: see the module's docstring
MAX_STEP = 0.02  # largest Newton step on an entry's boundary offset
MAX_ERROR = 0.5  # never serve a candidate more likely wrong than right, whatever the budget left
BUDGET_WINDOW = 5000  # lookups over which the error budget is kept (exponential decay)
OFFER_WINDOW = 2000  # recent lookups whose best candidates set the serving threshold
REFRESH_EVERY = 25  # lookups between two computations of the serving threshold
CALIBRATION_PRIOR = 3.0  # pseudo-errors: until this many would-be hits were labelled, estimates stand as they are
CALIBRATION_Z = 0.5  # the observed count of wrong labels is taken this many sds high: few are seen
CALIBRATION_WINDOW = 1000  # labels of would-be hits over which the calibration is kept (exponential decay)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


@dataclass(slots=True)
class EntryState:
    """What one cached entry has learned: its recent (similarity, correct) labels. Persist with `to_json`."""

    labels: deque[tuple[float, bool]] = field(default_factory=lambda: deque(maxlen=MAX_ENTRY_LABELS))
    # Cached MAP offset of this entry's boundary and its variance; None = recompute.
    _offset: tuple[float, float] | None = None
    _fit_version: int = -1

    def add(self, similarity: float, correct: bool) -> None:
        self.labels.append((float(similarity), bool(correct)))
        self._offset = None

    def to_json(self) -> dict[str, Any]:
        return {"labels": [[round(s, 5), c] for s, c in self.labels]}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> EntryState:
        state = cls()
        for s, c in (data or {}).get("labels", []):
            state.labels.append((float(s), bool(c)))
        return state


@dataclass(slots=True)
class OrgModel:
    """The org-wide sigmoid fit (γ, t₀) with its Laplace covariance, from the org's recent labels."""

    labels: deque[tuple[float, bool]] = field(default_factory=lambda: deque(maxlen=MAX_ORG_LABELS))
    gamma: float = PRIOR_GAMMA[0]
    t0: float = PRIOR_T0[0]
    cov: np.ndarray = field(default_factory=lambda: np.diag([PRIOR_GAMMA[1] ** 2, PRIOR_T0[1] ** 2]))
    version: int = 0
    lookups: float = 0.0  # decayed count of lookups
    spent: float = 0.0  # decayed sum of the estimated errors of served hits
    _since_fit: int = 0
    # (lookup number, estimated error of that lookup's best candidate) for the recent lookups that had one
    _offers: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=OFFER_WINDOW))
    _count: int = 0
    _thresholds: dict[float, tuple[int, float]] = field(default_factory=dict)  # δ -> (computed at, threshold)
    _last_threshold: float | None = None
    # Decayed wrong labels among would-be hits, and the sum of their estimated errors: their ratio scales estimates
    checked_wrong: float = 0.0
    checked_expected: float = 0.0

    def add(self, similarity: float, correct: bool) -> None:
        self.labels.append((float(similarity), bool(correct)))
        self._since_fit += 1
        if self._since_fit >= REFIT_EVERY or len(self.labels) < REFIT_EVERY:
            self.refit()

    def refit(self) -> None:
        """MAP logistic fit of (γ, t₀) by Newton's method, priors as Gaussian penalties."""
        self._since_fit = 0
        self.version += 1
        if not self.labels:
            return
        data = np.array(self.labels, dtype=np.float64)
        s, y = data[:, 0], data[:, 1]
        theta = np.array([self.gamma, self.t0])
        prior_mean = np.array([PRIOR_GAMMA[0], PRIOR_T0[0]])
        prior_prec = np.diag([1 / PRIOR_GAMMA[1] ** 2, 1 / PRIOR_T0[1] ** 2])
        hess = prior_prec
        for _ in range(25):
            g, t = theta
            p = 1 / (1 + np.exp(-np.clip(g * (s - t), -40, 40)))
            d_eta = np.stack([s - t, -np.full_like(s, g)])  # ∂η/∂(γ, t)
            grad = d_eta @ (y - p) - prior_prec @ (theta - prior_mean)
            w = p * (1 - p)
            hess = (d_eta * w) @ d_eta.T + prior_prec
            step = np.linalg.solve(hess, grad)
            theta = theta + step
            theta[0] = max(theta[0], 1.0)  # the probability of a correct hit rises with similarity
            if np.abs(step).max() < 1e-6:
                break
        self.gamma, self.t0 = float(theta[0]), float(theta[1])
        self.cov = np.linalg.inv(hess)

    def entry_offset(self, state: EntryState) -> tuple[float, float]:
        """MAP of the entry's boundary shift u (t_e = t₀ + u) and its variance, γ and t₀ held at the org fit."""
        if state._offset is not None and state._fit_version == self.version:
            return state._offset
        u, precision = 0.0, 1 / ENTRY_OFFSET_SD**2
        for _ in range(30 if state.labels else 0):
            grad, precision = -u / ENTRY_OFFSET_SD**2, 1 / ENTRY_OFFSET_SD**2
            for s, c in state.labels:
                p = _sigmoid(self.gamma * (s - self.t0 - u))
                grad += -self.gamma * ((1.0 if c else 0.0) - p)
                precision += self.gamma**2 * p * (1 - p)
            step = max(-MAX_STEP, min(MAX_STEP, grad / precision))  # plain Newton overshoots on steep sigmoids
            u += step
            if abs(step) < 1e-5:
                break
        state._offset, state._fit_version = (u, 1 / precision), self.version
        return state._offset

    def correct_probability(self, similarity: float, state: EntryState) -> tuple[float, float]:
        """(mean, lower confidence bound) of P(correct) for serving this entry at this similarity."""
        u, u_var = self.entry_offset(state)
        eta = self.gamma * (similarity - self.t0 - u)
        grad = np.array([similarity - self.t0 - u, -self.gamma])
        var = float(grad @ self.cov @ grad) + self.gamma**2 * u_var
        return _sigmoid(eta), _sigmoid(eta - Z * math.sqrt(max(var, 0.0)))

    def count_lookup(self) -> None:
        decay = 1 - 1 / BUDGET_WINDOW
        self.lookups = self.lookups * decay + 1
        self.spent *= decay
        self._count += 1

    def calibration(self) -> float:
        """Observed over estimated errors of the labelled would-be hits (sampled checks, feedback, and candidates
        held back by the budget), shrunk towards 1, the observed count taken CALIBRATION_Z sds high. The sigmoid
        is fitted mostly on the labels of middling candidates, so its slope can be off where hits are served (on
        the intent sets its estimates ran well above the errors seen); this puts the estimates on the scale of
        what verification actually finds."""
        wrong = self.checked_wrong + CALIBRATION_Z * math.sqrt(self.checked_wrong + 1)
        return (wrong + CALIBRATION_PRIOR) / (self.checked_expected + CALIBRATION_PRIOR)

    def error(self, estimated: float) -> float:
        """A candidate's error as the budget counts it: the model's estimate, calibrated."""
        return min(1.0, estimated * self.calibration())

    def check(self, estimated: float, correct: bool) -> None:
        """A label on a candidate whose calibrated error was within the serving threshold: a would-be hit."""
        if self._last_threshold is None or self.error(estimated) > self._last_threshold:
            return
        decay = 1 - 1 / CALIBRATION_WINDOW
        self.checked_wrong = self.checked_wrong * decay + (not correct)
        self.checked_expected = self.checked_expected * decay + estimated

    def offer(self, error: float) -> None:
        """The estimated error of this lookup's best candidate, served or not: what sets the threshold."""
        self._offers.append((self._count, error))

    def threshold(self, delta: float) -> float:
        """The largest error a hit may carry so that serving every recent candidate at most that likely wrong
        would have cost δ per lookup: the budget goes to the surest hits, wherever they fall in the stream,
        instead of to the first ones. Never below δ itself: such a hit keeps the rate under δ on its own."""
        cached = self._thresholds.get(delta)
        if cached is not None and self._count - cached[0] < REFRESH_EVERY:
            return cached[1]
        threshold = delta
        if self._offers:
            errors = np.sort(np.fromiter((e for _, e in self._offers), dtype=np.float64, count=len(self._offers)))
            span = self._count - self._offers[0][0] + 1
            affordable = np.searchsorted(np.cumsum(errors), delta * span, side="right")
            if affordable:
                threshold = max(delta, float(errors[affordable - 1]))
        self._thresholds[delta] = (self._count, threshold)
        self._last_threshold = min(MAX_ERROR, threshold)
        return threshold

    def lowest_servable(self, delta: float) -> float:
        """About the lowest similarity at which an entry could be served now: the org's boundary, moved by as much
        as an entry's own labels plausibly move it (two prior sds), at the largest error a hit may carry. A
        two-stage lookup does not confirm candidates that cannot come near it."""
        error = min(MAX_ERROR, self.threshold(delta))
        return self.t0 - 2 * ENTRY_OFFSET_SD + math.log((1 - error) / error) / self.gamma

    def affordable(self, error: float, delta: float) -> bool:
        """May a hit with this estimated error be served without the org's error rate passing δ?"""
        return error <= min(MAX_ERROR, self.threshold(delta)) and self.spent + error <= delta * self.lookups

    def charge(self, error: float) -> None:
        self.spent += error

    def to_json(self) -> dict[str, Any]:
        return {"lookups": self.lookups, "spent": self.spent, "checked_wrong": self.checked_wrong,
                "checked_expected": self.checked_expected, "labels": [[round(s, 5), c] for s, c in self.labels]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OrgModel:
        model = cls(lookups=float(data.get("lookups", 0.0)), spent=float(data.get("spent", 0.0)),
                    checked_wrong=float(data.get("checked_wrong", 0.0)),
                    checked_expected=float(data.get("checked_expected", 0.0)))
        for s, c in data.get("labels", []):
            model.labels.append((float(s), bool(c)))
        model.refit()
        return model
