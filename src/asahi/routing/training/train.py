"""Offline training of the learned router on the public routing sets, with held-out evaluation and calibration.

Every figure in the report comes from rows the scoring model never saw: k-fold cross-validation within each set,
rows RouteLLM flagged as contaminated never scored, and AlpacaEval (non-commercial data) never trained on at
all. Rows are scored the way the router decides: by expected quality loss per token saved, the saving estimated
from the prompt and the predicted answer length (never from the row's recorded answer). The calibration table
is built from those same held-out scores; only then is the shipped model refitted on every trainable row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from asahi.routing.features import FEATURE_NAMES, prompt_family, text_features
from asahi.routing.learned import FAMILIES, LENGTH_TEMPERATURE, FamilyModel, LearnedRouter, loss_per_saving
from asahi.routing.training.datasets import EVALUATION_ONLY, Prices, RoutingExample, load_examples, load_prices
from asahi.routing.training.evaluation import random_curve, router_curve, saving_at

Array = npt.NDArray[np.float64]
EmbedFn = Callable[[list[str]], npt.NDArray[np.float32]]

L2 = 1000.0  # ridge penalty on standardised inputs (~6,000 rows, 390 inputs)
FOLDS = 5
FLOORS = np.round(np.arange(0.80, 1.0001, 0.01), 2)
# Sets with fewer held-out rows are too noisy to calibrate on (MT-Bench has 58).
MIN_CALIBRATION_ROWS = 100
CALIBRATION_GRID = 4001  # candidate thresholds: quantiles of the held-out scores
# Families are calibrated in turn, each against the others' current λ, until no λ moves or this many rounds.
CALIBRATION_PASSES = 5
INNER_FOLDS = 3
# (ridge weight, kernel width) pairs tried per family, simplest first: the ridge estimate alone, blends, then
# the neighbours alone at two widths. Chosen per family on training rows only (`fit_router_family`).
CANDIDATES = ((1.0, LENGTH_TEMPERATURE), (0.5, 0.1), (0.3, 0.1), (0.0, 0.1), (0.0, 0.2))
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
    thresholds: dict[str, dict[float, float]]  # family -> quality floor -> λ (loss per token saved), a few floors
    blends: dict[str, tuple[float, float]]  # family -> (ridge weight, kernel width) chosen for the shipped model


def design_matrix(examples: Sequence[RoutingExample], embeddings: npt.NDArray[np.float32]) -> Array:
    features = np.stack([text_features(e.text) for e in examples])
    return np.hstack([embeddings, features]).astype(np.float64)


def quality_loss(examples: Sequence[RoutingExample], rows: npt.NDArray[np.int_]) -> Array:
    """The training target of `rows`: (strong − cheap quality) / the mean strong quality of the row's set.

    A share of the strong model's quality, so right/wrong sets, 1–10 grades and win rates add up alike; the
    mean is taken over `rows` alone.
    """
    names = [examples[i].dataset for i in rows]
    strong = np.array([examples[i].strong_quality for i in rows])
    cheap = np.array([examples[i].cheap_quality for i in rows])
    scale = {n: max(float(strong[[m == n for m in names]].mean()), 1e-9) for n in set(names)}
    result: Array = (strong - cheap) / np.array([scale[n] for n in names])
    return result


def log_answer_tokens(examples: Sequence[RoutingExample], rows: npt.NDArray[np.int_]) -> Array:
    return np.log1p(np.array([examples[i].strong_output_tokens for i in rows], dtype=np.float64))


def estimated_saving(examples: Sequence[RoutingExample], answer_tokens: Array, prices: Prices) -> Array:
    """What switching each row to the cheap model would save, in strong output tokens, from what is known
    before the call: the input tokens and the predicted answer length (the same for both models)."""
    input_tokens = np.array([e.input_tokens for e in examples], dtype=np.float64)
    usd = (
        input_tokens * (prices.strong_input - prices.cheap_input)
        + answer_tokens * (prices.strong_output - prices.cheap_output)
    ) / 1e6
    result: Array = usd / (prices.strong_output / 1e6)
    return result


def fit_ridge(x: Array, y: Array, l2: float = L2) -> tuple[Array, float]:
    """L2-regularised least squares on standardised inputs; returns weights and bias on the raw inputs."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / std
    target = y.mean()
    beta = np.linalg.solve(z.T @ z + l2 * np.eye(z.shape[1]), z.T @ (y - target))
    weights = beta / std
    return weights, float(target - weights @ mean)


def trainable(examples: Sequence[RoutingExample]) -> npt.NDArray[np.bool_]:
    return np.array([e.dataset not in EVALUATION_ONLY for e in examples])


def family_of(examples: Sequence[RoutingExample]) -> npt.NDArray[np.int_]:
    """Each row's family index into `FAMILIES`, from its text alone, as the router decides at run time."""
    return np.array([prompt_family(e.text) for e in examples])


def fit_family(x: Array, loss: Array, log_tokens: Array, blend: float, temperature: float) -> FamilyModel:
    weights, bias = fit_ridge(x, loss)
    neighbours = x[:, : x.shape[1] - len(FEATURE_NAMES)].astype(np.float32)
    return FamilyModel(weights, bias, neighbours, loss.copy(), log_tokens.copy(), blend, temperature)


def _selection_score(
    examples: Sequence[RoutingExample], rows: npt.NDArray[np.int_], x: Array, prices: Prices, seed: int
) -> list[float]:
    """Inner cross-validation on `rows` only: the mean held-out saving at 95% of each candidate in `CANDIDATES`,
    rows ranked by the cost-aware score the router uses.

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
        fitted = rows[train_rows]
        model = fit_family(
            x[fitted], quality_loss(examples, fitted), log_answer_tokens(examples, fitted), 1.0, LENGTH_TEMPERATURE
        )
        linear = model.linear_loss(x[rows[test_rows]])
        dim = model.neighbours.shape[1]
        similarities = x[rows[test_rows], :dim] @ model.neighbours.T.astype(np.float64)
        saving = None
        for c, (blend, temperature) in enumerate(CANDIDATES):
            near, log_tokens = model.neighbour_means(similarities, temperature)
            if saving is None:
                saving = estimated_saving([examples[i] for i in rows[test_rows]], np.expm1(log_tokens), prices)
            scores[c, test_rows] = -loss_per_saving(blend * linear + (1 - blend) * near, saving)
    names = sorted({examples[i].dataset for i in rows})
    masks = [np.array([examples[i].dataset == n and not examples[i].contaminated for i in rows]) for n in names]
    masks = [m for m in masks if m.sum() >= MIN_SELECTION_ROWS] or [m for m in masks if m.any()]
    results = []
    for candidate in scores:
        savings = [saving_at(router_curve([examples[i] for i in rows[m]], candidate[m]), 0.95) for m in masks]
        results.append(float(np.mean(savings)) if savings else 0.0)
    return results


def fit_router_family(
    examples: Sequence[RoutingExample], rows: npt.NDArray[np.int_], x: Array, prices: Prices, seed: int = 0
) -> FamilyModel:
    """Choose blend and kernel width by inner cross-validation on `rows`, then fit on all of them."""
    results = _selection_score(examples, rows, x, prices, seed)
    blend, temperature = CANDIDATES[int(np.argmax(results))]  # ties go to the earlier, simpler candidate
    return fit_family(x[rows], quality_loss(examples, rows), log_answer_tokens(examples, rows), blend, temperature)


# The families whose rows train each family's predictor, in the order of `FAMILIES`.
TRAINING_POOLS = ((0, 2), (1,), (0, 2))


def _family_rows(can_train: npt.NDArray[np.bool_], family: npt.NDArray[np.int_], f: int) -> npt.NDArray[np.int_]:
    """A family's training rows; a family too small to learn from borrows every trainable row."""
    own = can_train & np.isin(family, TRAINING_POOLS[f])
    return np.flatnonzero(own if own.sum() >= MIN_FAMILY_ROWS else can_train)


def fit_router(
    examples: Sequence[RoutingExample], x: Array, rows: npt.NDArray[np.bool_], prices: Prices, seed: int = 0
) -> tuple[FamilyModel, ...]:
    """One model per family, in the order of `FAMILIES`, each fitted on that family's `rows`."""
    family = family_of(examples)
    return tuple(
        fit_router_family(examples, _family_rows(rows, family, f), x, prices, seed) for f in range(len(FAMILIES))
    )


def cross_validated_predictions(
    examples: Sequence[RoutingExample], x: Array, prices: Prices, folds: int = FOLDS, seed: int = 0
) -> tuple[Array, Array]:
    """Each row's expected loss and answer length from a model fitted, and tuned, without it (contaminated rows
    only ever train)."""
    contaminated = np.array([e.contaminated for e in examples])
    can_train = trainable(examples)
    family = family_of(examples)
    fold = np.random.default_rng(seed).integers(0, folds, len(examples))
    loss, tokens = np.zeros(len(examples)), np.zeros(len(examples))
    for k in range(folds):
        models = fit_router(examples, x, can_train & ((fold != k) | contaminated), prices, seed=seed * folds + k)
        for f, model in enumerate(models):
            test = (fold == k) & (family == f)
            if test.any():
                loss[test], tokens[test] = model.predict(x[test])
    return loss, tokens


def cross_validated_scores(
    examples: Sequence[RoutingExample], x: Array, prices: Prices, folds: int = FOLDS, seed: int = 0
) -> Array:
    """Held-out routing scores, higher goes cheap first: minus the expected loss per strong output token saved."""
    loss, tokens = cross_validated_predictions(examples, x, prices, folds, seed)
    result: Array = -loss_per_saving(loss, estimated_saving(examples, tokens, prices))
    return result


def scored_rows(examples: Sequence[RoutingExample], dataset: str) -> npt.NDArray[np.bool_]:
    return np.array([e.dataset == dataset and not e.contaminated for e in examples])


def calibrate(examples: Sequence[RoutingExample], scores: Array) -> Array:
    """For each family and each floor in `FLOORS`, the largest λ whose routing kept that floor on held-out rows.

    `scores` are `cross_validated_scores` (minus loss per token saved), so a row goes cheap at λ when
    -score ≤ λ. A family is calibrated on the trained sets with enough of its rows (all sets with any of them
    when none has), and every one of those sets must keep the floor, not merely their average: open requests
    span short and long answers, and an average would let the chat fall well below the floor to save on its
    long answers. A set keeps the floor as a whole: its rows of the other families go cheap at their own
    family's λ for the same floor (GSM8K's few prompts that do not read as word problems follow the open λ,
    Arena's few word problems the word-problem λ). As the families' λ depend on each other they are
    calibrated in turn, starting from "route nothing", until none moves. A family with no calibration rows
    borrows the table of all rows. λ is scanned from the strictest so a lucky dip further on never counts;
    -inf means "route nothing". Returns one row per family.
    """
    family = family_of(examples)
    ratio = -scores
    strong = np.array([e.strong_quality for e in examples])
    change = np.array([e.cheap_quality - e.strong_quality for e in examples])
    sets = [scored_rows(examples, n) for n in sorted({e.dataset for e in examples} - EVALUATION_ONLY)]
    everything = np.ones(len(examples), dtype=bool)
    pooled_sets = _calibration_sets(sets, everything)
    pooled = _calibrate_rows(ratio, strong, change, pooled_sets, everything, np.zeros((len(pooled_sets), len(FLOORS))))
    own = [_calibration_sets(sets, family == f) for f in range(len(FAMILIES))]
    table = np.stack([np.full(len(FLOORS), -np.inf) if own[f] else pooled for f in range(len(FAMILIES))])
    for _ in range(CALIBRATION_PASSES):
        previous = table.copy()
        for f, calibration_sets in enumerate(own):
            if not calibration_sets:
                continue
            members = family == f
            fixed = np.zeros((len(calibration_sets), len(FLOORS)))
            for j, rows in enumerate(calibration_sets):
                others = rows & ~members  # routed at their own family's λ, floor by floor
                cheap = ratio[others][:, None] <= table[family[others]]
                fixed[j] = (change[others][:, None] * cheap).sum(axis=0)
            # A higher floor never allows more loss per token than a lower one.
            table[f] = np.minimum.accumulate(_calibrate_rows(ratio, strong, change, calibration_sets, members, fixed))
        if np.array_equal(table, previous):
            break
    return table


def _calibration_sets(sets: list[npt.NDArray[np.bool_]], members: npt.NDArray[np.bool_]) -> list[npt.NDArray[np.bool_]]:
    """The sets (their scored rows) a family is calibrated on: those with enough of its rows, else any of them."""
    return [s for s in sets if (s & members).sum() >= MIN_CALIBRATION_ROWS] or [s for s in sets if (s & members).any()]


def _calibrate_rows(
    ratio: Array,
    strong: Array,
    change: Array,
    sets: list[npt.NDArray[np.bool_]],
    members: npt.NDArray[np.bool_],
    fixed: Array,
) -> Array:
    """The largest λ per floor at which routing the `members` rows of each set (cheap when ratio ≤ λ) keeps
    the floor on the whole set, `fixed[j]` (per floor) being the quality change of set j's other rows."""
    finite = np.concatenate([ratio[s & members][np.isfinite(ratio[s & members])] for s in sets] + [np.zeros(0)])
    if not finite.size:
        return np.full(len(FLOORS), -np.inf)
    grid = np.unique(np.quantile(finite, np.linspace(0.0, 1.0, CALIBRATION_GRID)))
    quality = np.full((len(FLOORS), len(grid)), np.inf)
    for rows, other in zip(sets, fixed, strict=True):
        mine = rows & members
        order = np.argsort(ratio[mine], kind="stable")
        gained = np.concatenate([[0.0], np.cumsum(change[mine][order])])
        routed = np.searchsorted(ratio[mine][order], grid, side="right")  # rows with ratio ≤ λ
        total = strong[rows].sum()
        share = (total + other[:, None] + gained[routed][None, :]) / total
        quality = np.minimum(quality, share)  # every set keeps the floor, not just their average
    thresholds = []
    for floor, kept in zip(FLOORS, quality, strict=True):
        failing = np.flatnonzero(kept < floor)
        if not failing.size:
            thresholds.append(float(grid[-1]))
        else:
            thresholds.append(float(grid[failing[0] - 1]) if failing[0] > 0 else -np.inf)
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
    prices = load_prices(data_dir)
    x = design_matrix(examples, (embed or _local_embed)([e.text for e in examples]))
    scores = cross_validated_scores(examples, x, prices, seed=seed)
    thresholds = calibrate(examples, scores)

    rows = trainable(examples)
    families = fit_router(examples, x, rows, prices, seed=seed)
    model = LearnedRouter(embedder_name, families, FLOORS.astype(np.float64), thresholds)
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    return TrainReport(
        out=out,
        size_bytes=out.stat().st_size,
        train_rows=int(rows.sum()),
        datasets=evaluate(examples, scores),
        thresholds={
            name: {float(f): float(t) for f, t in zip(FLOORS, row, strict=True) if f in (0.9, 0.95, 0.99)}
            for name, row in zip(FAMILIES, thresholds, strict=True)
        },
        blends={name: (m.blend, m.temperature) for name, m in zip(FAMILIES, families, strict=True)},
    )
