"""Offline training of the learned router on the public routing sets, with held-out evaluation and calibration.

Every figure in the report comes from rows the scoring model never saw: k-fold cross-validation within each set,
rows RouteLLM flagged as contaminated never scored, and AlpacaEval (non-commercial data) never trained on at
all. The calibration table is built from those same held-out scores; only then is the shipped model refitted
on every trainable row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from asahi.routing.datasets import EVALUATION_ONLY, RoutingExample, load_examples
from asahi.routing.evaluation import random_curve, router_curve, saving_at
from asahi.routing.features import FEATURE_NAMES, is_multiple_choice, text_features
from asahi.routing.learned import FAMILIES, FamilyModel, LearnedRouter, logit

Array = npt.NDArray[np.float64]
EmbedFn = Callable[[list[str]], npt.NDArray[np.float32]]

L2 = 1.0  # on standardised inputs; chosen by held-out saving, flat between 0.3 and 10
NEWTON_STEPS = 30
FOLDS = 5
FLOORS = np.round(np.arange(0.80, 1.0001, 0.01), 2)
# Sets with fewer held-out rows are too noisy to calibrate on (MT-Bench has 58).
MIN_CALIBRATION_ROWS = 100
INNER_FOLDS = 3
# (blend, kernel width) pairs tried per family, simplest first: the logistic model alone, then half and half,
# then the neighbours alone, each at two widths. Chosen per family on training rows only (`fit_router_family`).
CANDIDATES = ((1.0, 1.0), (0.5, 0.05), (0.5, 0.1), (0.0, 0.05), (0.0, 0.1))
# Sets with fewer rows in a selection are too noisy to choose by (MT-Bench has about 50 there).
MIN_SELECTION_ROWS = 75
# A family with fewer trainable rows than this borrows every trainable row.
MIN_FAMILY_ROWS = 50


@dataclass(frozen=True, slots=True)
class DatasetReport:
    rows: int  # held-out rows scored
    trained_on: bool
    saving_at_95: float  # share of the always-strong cost saved at ≥ 95% of its quality
    random_saving_at_95: float


@dataclass(frozen=True, slots=True)
class TrainReport:
    out: Path
    size_bytes: int
    train_rows: int
    datasets: dict[str, DatasetReport]
    thresholds: dict[float, float]  # quality floor -> probability threshold, a few floors for the log
    blends: dict[str, tuple[float, float]]  # family -> (logistic weight, kernel width) chosen for the shipped model


def design_matrix(examples: Sequence[RoutingExample], embeddings: npt.NDArray[np.float32]) -> Array:
    features = np.stack([text_features(e.text) for e in examples])
    return np.hstack([embeddings, features]).astype(np.float64)


def fit_logistic(x: Array, y: Array, l2: float = L2) -> tuple[Array, float]:
    """L2-regularised logistic regression by Newton's method; returns weights and bias on the raw inputs."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
    penalty = l2 * np.eye(z.shape[1])
    penalty[-1, -1] = 0.0  # the bias is not shrunk
    beta = np.zeros(z.shape[1])
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-(z @ beta)))
        gradient = z.T @ (p - y) + penalty @ beta
        hessian = (z * (p * (1 - p))[:, None]).T @ z + penalty
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    weights = beta[:-1] / std
    return weights, float(beta[-1] - weights @ mean)


def trainable(examples: Sequence[RoutingExample]) -> npt.NDArray[np.bool_]:
    return np.array([e.dataset not in EVALUATION_ONLY for e in examples])


def family_of(examples: Sequence[RoutingExample]) -> npt.NDArray[np.int_]:
    """Each row's family index into `FAMILIES`, from its text alone, as the router decides at run time."""
    return np.array([int(is_multiple_choice(e.text)) for e in examples])


def fit_family(x: Array, y: Array, blend: float, temperature: float) -> FamilyModel:
    weights, bias = fit_logistic(x, y)
    neighbours = x[:, : x.shape[1] - len(FEATURE_NAMES)].astype(np.float32)
    return FamilyModel(weights, bias, neighbours, y.copy(), blend, temperature)


def _selection_score(
    examples: Sequence[RoutingExample], rows: npt.NDArray[np.int_], x: Array, y: Array, seed: int
) -> list[float]:
    """Inner cross-validation on `rows` only: the mean held-out saving at 95% of each candidate in `CANDIDATES`.

    The mean is over the sets with at least `MIN_SELECTION_ROWS` scored rows (all sets when none has), so
    the choice is made without ever looking at the outer fold being evaluated.
    """
    fold = np.random.default_rng(seed).integers(0, INNER_FOLDS, len(rows))
    contaminated = np.array([examples[i].contaminated for i in rows])
    scores = np.zeros((len(CANDIDATES), len(rows)))
    for k in range(INNER_FOLDS):
        train_rows, test_rows = (fold != k) | contaminated, fold == k
        if not test_rows.any() or not train_rows.any():
            continue
        model = fit_family(x[rows[train_rows]], y[rows[train_rows]], 1.0, 1.0)
        lr = model.logistic_logit(x[rows[test_rows]])
        dim = model.neighbours.shape[1]
        similarities = x[rows[test_rows], :dim] @ model.neighbours.T.astype(np.float64)
        for c, (blend, temperature) in enumerate(CANDIDATES):
            votes = replace(model, temperature=temperature).neighbour_vote(similarities)
            scores[c, test_rows] = blend * lr + (1 - blend) * logit(votes)
    names = sorted({examples[i].dataset for i in rows})
    masks = [np.array([examples[i].dataset == n and not examples[i].contaminated for i in rows]) for n in names]
    masks = [m for m in masks if m.sum() >= MIN_SELECTION_ROWS] or [m for m in masks if m.any()]
    results = []
    for candidate in scores:
        savings = [saving_at(router_curve([examples[i] for i in rows[m]], candidate[m]), 0.95) for m in masks]
        results.append(float(np.mean(savings)) if savings else 0.0)
    return results


def fit_router_family(
    examples: Sequence[RoutingExample], rows: npt.NDArray[np.int_], x: Array, seed: int = 0
) -> FamilyModel:
    """Choose blend and kernel width by inner cross-validation on `rows`, then fit on all of them."""
    y = np.array([e.cheap_is_enough for e in examples], dtype=np.float64)
    results = _selection_score(examples, rows, x, y, seed)
    blend, temperature = CANDIDATES[int(np.argmax(results))]  # ties go to the earlier, simpler candidate
    return fit_family(x[rows], y[rows], blend, temperature)


def _family_rows(can_train: npt.NDArray[np.bool_], family: npt.NDArray[np.int_], f: int) -> npt.NDArray[np.int_]:
    """A family's training rows; a family too small to learn from borrows every trainable row."""
    own = can_train & (family == f)
    return np.flatnonzero(own if own.sum() >= MIN_FAMILY_ROWS else can_train)


def fit_router(
    examples: Sequence[RoutingExample], x: Array, rows: npt.NDArray[np.bool_], seed: int = 0
) -> tuple[FamilyModel, FamilyModel]:
    family = family_of(examples)
    open_, choice = (fit_router_family(examples, _family_rows(rows, family, f), x, seed) for f in range(len(FAMILIES)))
    return open_, choice


def cross_validated_scores(examples: Sequence[RoutingExample], x: Array, folds: int = FOLDS, seed: int = 0) -> Array:
    """Each row's probability from a model fitted, and tuned, without it (contaminated rows only ever train)."""
    contaminated = np.array([e.contaminated for e in examples])
    can_train = trainable(examples)
    family = family_of(examples)
    fold = np.random.default_rng(seed).integers(0, folds, len(examples))
    scores = np.zeros(len(examples))
    for k in range(folds):
        models = fit_router(examples, x, can_train & ((fold != k) | contaminated), seed=seed * folds + k)
        for f, model in enumerate(models):
            test = (fold == k) & (family == f)
            if test.any():
                scores[test] = model.predict(x[test])
    return scores


def scored_rows(examples: Sequence[RoutingExample], dataset: str) -> npt.NDArray[np.bool_]:
    return np.array([e.dataset == dataset and not e.contaminated for e in examples])


def calibrate(examples: Sequence[RoutingExample], scores: Array) -> Array:
    """For each floor in `FLOORS`, the lowest threshold whose routing kept that floor on held-out rows.

    Quality is averaged over the trained sets with enough rows (all of them when none has), so no single
    benchmark sets the org's floor;
    thresholds are scanned from the top so a lucky dip lower down never counts.
    """
    grid = np.linspace(1.0, 0.0, 401)
    masks = [scored_rows(examples, name) for name in sorted({e.dataset for e in examples} - EVALUATION_ONLY)]
    masks = [m for m in masks if m.sum() >= MIN_CALIBRATION_ROWS] or [m for m in masks if m.any()]
    shares = []
    for mask in masks:
        rows = [e for e, m in zip(examples, mask, strict=True) if m]
        cheap = np.array([r.cheap_quality for r in rows])
        strong = np.array([r.strong_quality for r in rows])
        routed = scores[mask][None, :] >= grid[:, None]
        shares.append(np.where(routed, cheap, strong).sum(axis=1) / strong.sum())
    quality = np.mean(shares, axis=0)
    thresholds = []
    for floor in FLOORS:
        failing = np.flatnonzero(quality < floor)
        # A probability never reaches 1.0, so grid[0] is "route nothing" even when that first point fails.
        thresholds.append(grid[max(failing[0] - 1, 0)] if failing.size else grid[-1])
    return np.array(thresholds)


def evaluate(examples: Sequence[RoutingExample], scores: Array) -> dict[str, DatasetReport]:
    reports = {}
    for name in sorted({e.dataset for e in examples}):
        mask = scored_rows(examples, name)
        rows = [e for e, m in zip(examples, mask, strict=True) if m]
        if not rows:
            continue
        reports[name] = DatasetReport(
            rows=len(rows),
            trained_on=name not in EVALUATION_ONLY,
            saving_at_95=saving_at(router_curve(rows, scores[mask]), 0.95),
            random_saving_at_95=saving_at(random_curve(rows), 0.95),
        )
    return reports


def _local_embed(texts: list[str]) -> npt.NDArray[np.float32]:
    from asahi.embeddings.local import LocalEmbedder

    embedder = LocalEmbedder()
    batches = [embedder.embed_sync(texts[i : i + 64]) for i in range(0, len(texts), 64)]
    return np.concatenate(batches) if batches else np.zeros((0, embedder.dimension), np.float32)


def train(
    data_dir: Path,
    out: Path,
    *,
    embed: EmbedFn | None = None,
    embedder_name: str = "local:all-MiniLM-L6-v2-int8",
    seed: int = 0,
) -> TrainReport:
    """Train on the routing sets in `data_dir`, write the model to `out`, and report held-out figures.

    `embed` must be the embedder the gateway runs (default: the local MiniLM); pass a caching one to rerun fast.
    """
    examples = load_examples(data_dir)
    if not any(trainable(examples)):
        raise ValueError(f"no routing sets to train on under {data_dir}")
    x = design_matrix(examples, (embed or _local_embed)([e.text for e in examples]))
    scores = cross_validated_scores(examples, x, seed=seed)
    thresholds = calibrate(examples, scores)

    rows = trainable(examples)
    families = fit_router(examples, x, rows, seed=seed)
    model = LearnedRouter(embedder_name, families, FLOORS.astype(np.float64), thresholds)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    return TrainReport(
        out=out,
        size_bytes=out.stat().st_size,
        train_rows=int(rows.sum()),
        datasets=evaluate(examples, scores),
        thresholds={float(f): float(t) for f, t in zip(FLOORS, thresholds, strict=True) if f in (0.9, 0.95, 0.99)},
        blends={name: (m.blend, m.temperature) for name, m in zip(FAMILIES, families, strict=True)},
    )
