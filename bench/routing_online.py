"""Online routing, simulated: each labelled set streamed in random order as one org's traffic.

Used by `routing_eval.py --online` and `--model`. The org starts from an offline model that never saw the set
(the shipped recipe trained on every other set), or from a given model file; it has no labels. Each request is
routed by the live rule with the org's calibration (`asahi.routing.online`); a request picked for labelling
is answered by the strong model while the cheap one runs off the path, and its label is the set's own score
difference. Costs include every label: the extra model call and, for open prompts, a judge call. Cascade mode
(GSM8K: the one set that ships the answers) answers every request with the cheap model first, keeps the answer
when the verifier (cross-fitted: never trained on the row it scores) and the org's calibrated threshold allow,
and escalates to the strong model otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from asahi.routing.features import CHOICE, WORD_PROBLEM
from asahi.routing.learned import FAMILIES, Assessment, LearnedRouter, goes_cheap
from asahi.routing.online.bound import Z
from asahi.routing.online.calibration import Saving
from asahi.routing.online.service import OnlineRouting
from asahi.routing.training.datasets import AnsweredExample, Prices, RoutingExample, load_answers
from asahi.routing.training.evaluation import random_curve, saving_at
from asahi.routing.training.train import (
    FLOORS,
    calibrate,
    cross_validated_scores,
    family_of,
    fit_router,
    trainable,
)
from asahi.routing.training.verifier import cross_validated

Array = npt.NDArray[np.float64]
FLOOR = 0.95
# A judge call for an open prompt reads the rubric, the prompt and both answers and writes a short verdict.
JUDGE_RUBRIC_TOKENS = 200
JUDGE_VERDICT_TOKENS = 100
CHECKPOINTS = 60  # points per quality-over-time curve


@dataclass(frozen=True, slots=True)
class JudgePrice:
    """USD per 1M tokens of the judge model (default: the strong model, as the sets' labels come from GPT-4)."""

    input: float
    output: float

    def cost(self, example: RoutingExample) -> float:
        tokens = JUDGE_RUBRIC_TOKENS + example.input_tokens + example.cheap_output_tokens + example.strong_output_tokens
        return (tokens * self.input + JUDGE_VERDICT_TOKENS * self.output) / 1e6


@dataclass(frozen=True, slots=True)
class StreamResult:
    quality_share: float
    saving: float  # net of every label's extra calls
    shadow_share: float  # requests labelled
    verification_share: float  # cost of the labels over the always-strong cost
    cheap_share: float  # requests answered by the cheap model
    curve: list[tuple[float, float, float]]  # (requests seen share, quality share so far, saving so far)


def train_without(examples: Sequence[RoutingExample], x: Array, prices: Prices, held: str) -> LearnedRouter:
    """The shipped recipe (`asahi router train`) on every trainable set but `held`."""
    keep = [i for i, e in enumerate(examples) if e.dataset != held]
    rows, design = [examples[i] for i in keep], x[keep]
    thresholds = calibrate(rows, cross_validated_scores(rows, design, prices))
    families = fit_router(rows, design, trainable(rows), prices)
    return LearnedRouter("local:all-MiniLM-L6-v2-int8", families, FLOORS.astype(np.float64), thresholds)


def unseen_model(examples: Sequence[RoutingExample], x: Array, prices: Prices, held: str, cache: Path) -> LearnedRouter:
    path = cache / f"unseen-{held}.npz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        train_without(examples, x, prices, held).save(path)
    return LearnedRouter.load(path)


def offline_assessments(model: LearnedRouter, rows: Sequence[RoutingExample], x: Array) -> list[Assessment]:
    family = family_of(rows)
    loss, tokens, nearest = np.zeros(len(rows)), np.zeros(len(rows)), np.zeros(len(rows))
    for f in range(len(FAMILIES)):
        mine = family == f
        if mine.any():
            loss[mine], tokens[mine], nearest[mine] = model.families[f].predict_with_nearest(x[mine])
    columns = zip(loss, tokens, family, nearest, strict=True)
    return [Assessment(float(a), float(b), int(c), float(d)) for a, b, c, d in columns]


def saving_terms(example: RoutingExample, prices: Prices) -> Saving:
    """The cheap tier's estimated saving in strong output tokens, as the router computes it: the prompt's part
    and the part per answer token."""
    return Saving(
        example.input_tokens * (prices.strong_input - prices.cheap_input) / prices.strong_output,
        (prices.strong_output - prices.cheap_output) / prices.strong_output,
    )


def stream(
    rows: Sequence[RoutingExample],
    assessments: Sequence[Assessment],
    embeddings: npt.NDArray[np.float32],
    model: LearnedRouter,
    prices: Prices,
    judge: JudgePrice,
    seed: int,
    z: float = Z,
) -> StreamResult:
    """One org's traffic: `rows` in a random order, routed online from no labels."""
    rng = np.random.default_rng(seed)
    online = OnlineRouting(model, z=z)
    unit = float(np.mean([r.strong_quality for r in rows])) or 1.0
    total_strong_q = sum(r.strong_quality for r in rows)
    total_strong_c = sum(r.strong_cost for r in rows)
    quality = cost = verification = strong_q = strong_c = 0.0
    shadowed = cheap_count = 0
    marks = set(np.linspace(1, len(rows), CHECKPOINTS).round().astype(int).tolist())
    curve = []
    for seen, i in enumerate(rng.permutation(len(rows)), start=1):
        row, offline, embedding = rows[i], assessments[i], embeddings[i]
        strong_q += row.strong_quality
        strong_c += row.strong_cost
        advice = online.advise("org", offline, embedding, FLOOR)
        saving = saving_terms(row, prices)
        cheap = advice.covered and goes_cheap(
            advice.assessment.loss, saving.at(advice.assessment.answer_tokens), advice.threshold
        )
        judged = judge.cost(row) if offline.family not in (CHOICE, WORD_PROBLEM) else 0.0  # else exact match
        label_cost = (row.strong_cost if cheap else row.cheap_cost) + judged
        probability = online.shadow_probability(
            "org", offline.family, FLOOR, relative_cost=label_cost / max(row.strong_cost, 1e-12)
        )
        if rng.random() < probability:
            # Labelled: the strong model answers, the cheap one runs off the path, a judge compares if needed.
            shadowed += 1
            quality += row.strong_quality
            cost += row.strong_cost + row.cheap_cost + judged
            verification += row.cheap_cost + judged + (row.strong_cost - row.cheap_cost if cheap else 0.0)
            loss = (row.strong_quality - row.cheap_quality) / unit
            online.record("org", offline, embedding, loss, saving=saving)
            online.record_answer("org", offline.family, offline.answer_tokens, row.strong_output_tokens)
        elif cheap:
            cheap_count += 1
            quality += row.cheap_quality
            cost += row.cheap_cost
            online.record_answer("org", offline.family, offline.answer_tokens, row.cheap_output_tokens)
        else:
            quality += row.strong_quality
            cost += row.strong_cost
            online.record_answer("org", offline.family, offline.answer_tokens, row.strong_output_tokens)
        if seen in marks:
            curve.append((seen / len(rows), quality / strong_q if strong_q else 1.0, 1 - cost / strong_c))
    return StreamResult(
        quality / total_strong_q,
        1 - cost / total_strong_c,
        shadowed / len(rows),
        verification / total_strong_c,
        cheap_count / len(rows),
        curve,
    )


def cascade_stream(
    rows: Sequence[AnsweredExample],
    costs: Sequence[tuple[float, float]],
    scores: Array,
    seed: int,
    z: float = Z,
) -> StreamResult:
    """One org's word problems in cascade mode: every request pays the cheap call; `scores` are the verifier's
    held-out P(wrong); `costs` (cheap, strong) USD per row. Labels are exact-match comparisons (no judge)."""
    rng = np.random.default_rng(seed)
    online = OnlineRouting(None, z=z)
    strong_quality = [float(r.strong_correct) for r in rows]
    cheap_quality = [float(r.cheap_correct) for r in rows]
    unit = float(np.mean(strong_quality)) or 1.0
    total_q, total_c = sum(strong_quality), sum(c[1] for c in costs)
    quality = cost = verification = strong_q = strong_c = 0.0
    shadowed = accepted = 0
    marks = set(np.linspace(1, len(rows), CHECKPOINTS).round().astype(int).tolist())
    curve = []
    for seen, i in enumerate(rng.permutation(len(rows)), start=1):
        cheap_cost, strong_cost = costs[i]
        strong_q += strong_quality[i]
        strong_c += strong_cost
        loss = (strong_quality[i] - cheap_quality[i]) / unit
        cost += cheap_cost  # every request starts with the cheap answer
        if online.cascade_check("org", WORD_PROBLEM, float(scores[i]), FLOOR):
            probability = online.cascade_shadow_probability("org", WORD_PROBLEM, FLOOR)
            if rng.random() < probability:  # checked: the strong answer is served, and labels the check
                shadowed += 1
                quality += strong_quality[i]
                cost += strong_cost
                verification += strong_cost
                online.cascade_record("org", WORD_PROBLEM, float(scores[i]), loss)
            else:
                accepted += 1
                quality += cheap_quality[i]
        else:  # escalated: both answers exist, so this is a label at no extra cost
            quality += strong_quality[i]
            cost += strong_cost
            online.cascade_record("org", WORD_PROBLEM, float(scores[i]), loss)
        if seen in marks:
            curve.append((seen / len(rows), quality / strong_q if strong_q else 1.0, 1 - cost / strong_c))
    return StreamResult(
        quality / total_q, 1 - cost / total_c, shadowed / len(rows), verification / total_c, accepted / len(rows), curve
    )


def cascade_inputs(data_dir: Path, prices: Prices) -> tuple[list[AnsweredExample], list[tuple[float, float]]]:
    """GSM8K's answered rows and their (cheap, strong) costs, priced like the routing rows."""
    from asahi.routing.cost import estimate_tokens

    rows = load_answers(data_dir)
    costs = [
        (
            prices.cheap(estimate_tokens(r.question), estimate_tokens(r.cheap_answer)),
            prices.strong(estimate_tokens(r.question), estimate_tokens(r.strong_answer)),
        )
        for r in rows
    ]
    return rows, costs


def cascade_verifier_scores(rows: Sequence[AnsweredExample], seed: int) -> Array:
    """Held-out verifier scores: each answer scored by a verifier trained on the other folds."""
    return cross_validated(rows, seed=seed)


def summarise(results: Sequence[StreamResult]) -> dict[str, object]:
    """Seed means, and the mean curve (the seeds share checkpoints)."""
    def mean(name: str) -> float:
        return float(np.mean([getattr(r, name) for r in results]))

    curve = np.mean(np.array([r.curve for r in results]), axis=0)
    return {
        "quality_share": mean("quality_share"),
        "saving": mean("saving"),
        "shadow_share": mean("shadow_share"),
        "verification_share": mean("verification_share"),
        "cheap_share": mean("cheap_share"),
        "quality_range": (min(r.quality_share for r in results), max(r.quality_share for r in results)),
        "saving_range": (min(r.saving for r in results), max(r.saving for r in results)),
        "curve": curve.tolist(),
    }


def random_saving_at(rows: Sequence[RoutingExample], quality: float) -> float:
    """What random mixing saves at the same quality share."""
    return saving_at(random_curve(rows, points=201), quality)
