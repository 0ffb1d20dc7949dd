"""Training the cascade's verifier on GSM8K's cheap-model answers, with held-out scores for the evaluation.

The label is whether the cheap model's answer was right; the model is an L2-regularised logistic regression on
standardised `verifier.features`, fitted by Newton's method (16 inputs, ~500 rows: a closed problem that needs
no library). Held-out scores come from k-fold cross-fitting, so every figure reported is on answers the
verifier never saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from asahi.routing.training.datasets import AnsweredExample, load_answers
from asahi.routing.verifier import VERIFIER_PATH, Verifier, features

Array = npt.NDArray[np.float64]

L2 = 1.0  # on standardised inputs
FOLDS = 5


def design(rows: Sequence[AnsweredExample]) -> Array:
    return np.stack([features(r.question, r.cheap_answer) for r in rows]) if rows else np.zeros((0, 0))


def fit_logistic(x: Array, wrong: Array, l2: float = L2) -> Verifier:
    """P(wrong) = σ(x·w + b); the intercept is not penalised."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / std])
    penalty = l2 * np.diag(np.r_[0.0, np.ones(x.shape[1])])
    beta = np.zeros(z.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ beta, -40, 40)))
        step = np.linalg.solve((z * (p * (1 - p))[:, None]).T @ z + penalty, z.T @ (wrong - p) - penalty @ beta)
        beta += step
        if np.abs(step).max() < 1e-8:
            break
    weights = beta[1:] / std
    return Verifier(weights, float(beta[0] - weights @ mean))


def cross_validated(rows: Sequence[AnsweredExample], folds: int = FOLDS, seed: int = 0) -> Array:
    """Each answer's P(wrong) from a verifier fitted without it."""
    x = design(rows)
    wrong = np.array([not r.cheap_correct for r in rows], dtype=np.float64)
    fold = np.random.default_rng(seed).integers(0, folds, len(rows))
    scores = np.zeros(len(rows))
    for k in range(folds):
        model = fit_logistic(x[fold != k], wrong[fold != k])
        scores[fold == k] = 1.0 / (1.0 + np.exp(-(x[fold == k] @ model.weights + model.bias)))
    return scores


def auc(scores: Array, positive: npt.NDArray[np.bool_]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores):  # average ranks over ties
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    pos = int(positive.sum())
    neg = len(scores) - pos
    return float((ranks[positive].sum() - pos * (pos + 1) / 2) / max(pos * neg, 1))


def train_verifier(data_dir: Path, out: Path = VERIFIER_PATH) -> tuple[Verifier, float]:
    """Fit on every GSM8K answer and write it to `out`; returns it with its held-out AUC."""
    rows = load_answers(data_dir)
    if not rows:
        raise ValueError(f"no answered word problems under {data_dir}")
    wrong = np.array([not r.cheap_correct for r in rows])
    held_out = auc(cross_validated(rows), wrong)
    model = fit_logistic(design(rows), wrong.astype(np.float64))
    model.save(out)
    return model, held_out
