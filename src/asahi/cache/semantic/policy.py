"""When may a tier 2 candidate be served? A learned, bounded rule instead of one static threshold.

After vCache ("Verified Semantic Prompt Caching", arXiv 2502.03771): the probability that serving entry e for a
prompt at cosine similarity s is correct is modelled as a sigmoid, P(correct | s, e) = σ(γ · (s − t_e)). Unlike a
static threshold, every entry gets its own decision boundary t_e, learned from the labels it collects.

Reimplemented from the idea, not from vCache's code, with two choices of ours:
- Entries see few labels, so t_e is shrunk towards an org-wide fit (γ, t₀) from all the org's labels (empirical
  Bayes): a new entry starts from what the org has learned and moves as its own evidence arrives.
- δ bounds the org's false-hit rate, wrong hits / lookups (vCache's error rate). Each candidate's error is
  estimated pessimistically as 1 − a lower confidence bound on P(correct), carrying the uncertainty of the org
  fit (Laplace approximation) and of the entry's offset, so with no labels nothing hits. A hit is served only if
  the estimated errors of the org's served hits stay within δ times its lookups (both decayed over a window of
  recent lookups), and never when one decision's estimated error exceeds MAX_ERROR_FACTOR · δ: the budget is
  spent on many near-certain hits rather than on a few coin flips.

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
Z = 1.645  # one-sided 95% bound
MAX_STEP = 0.02  # largest Newton step on an entry's boundary offset
MAX_ERROR_FACTOR = 5.0  # never serve a candidate more than 5δ likely to be wrong, whatever the budget left
BUDGET_WINDOW = 5000  # lookups over which the error budget is kept (exponential decay)


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

    def affordable(self, error: float, delta: float) -> bool:
        """May a hit with this estimated error be served without the org's error rate passing δ?"""
        return error <= MAX_ERROR_FACTOR * delta and self.spent + error <= delta * self.lookups

    def charge(self, error: float) -> None:
        self.spent += error

    def to_json(self) -> dict[str, Any]:
        return {"lookups": self.lookups, "spent": self.spent,
                "labels": [[round(s, 5), c] for s, c in self.labels]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OrgModel:
        model = cls(lookups=float(data.get("lookups", 0.0)),
                    spent=float(data.get("spent", 0.0)))
        for s, c in data.get("labels", []):
            model.labels.append((float(s), bool(c)))
        model.refit()
        return model
