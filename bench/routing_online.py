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

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    late: tuple[float, float]  # (quality share, saving) over the second half of the requests alone


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
    half = (0.0, 0.0, 0.0, 0.0)
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
        if seen == len(rows) // 2:
            half = (quality, strong_q, cost, strong_c)
    return StreamResult(
        quality / total_strong_q,
        1 - cost / total_strong_c,
        shadowed / len(rows),
        verification / total_strong_c,
        cheap_count / len(rows),
        curve,
        _late(half, (quality, strong_q, cost, strong_c)),
    )


def _late(half: tuple[float, ...], end: tuple[float, ...]) -> tuple[float, float]:
    """(quality share, saving) between the halfway mark and the end, from (quality, strong quality, cost,
    strong cost) totals at both."""
    quality, strong_q, cost, strong_c = (b - a for a, b in zip(half, end, strict=True))
    return quality / strong_q, 1 - cost / strong_c


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
    half = (0.0, 0.0, 0.0, 0.0)
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
        if seen == len(rows) // 2:
            half = (quality, strong_q, cost, strong_c)
    return StreamResult(
        quality / total_q,
        1 - cost / total_c,
        shadowed / len(rows),
        verification / total_c,
        accepted / len(rows),
        curve,
        _late(half, (quality, strong_q, cost, strong_c)),
    )


def cascade_inputs(data_dir: Path, prices: Prices) -> tuple[list[AnsweredExample], list[tuple[float, float]]]:
    """GSM8K's answered rows and their (cheap, strong) costs, priced like the routing rows."""
    from asahi.routing.cost import tokens_from_chars

    rows = load_answers(data_dir)
    costs = [
        (
            prices.cheap(tokens_from_chars(len(r.question)), tokens_from_chars(len(r.cheap_answer))),
            prices.strong(tokens_from_chars(len(r.question)), tokens_from_chars(len(r.strong_answer))),
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
        "late_quality": float(np.mean([r.late[0] for r in results])),
        "late_saving": float(np.mean([r.late[1] for r in results])),
        "saving_range": (min(r.saving for r in results), max(r.saving for r in results)),
        "curve": curve.tolist(),
    }


def random_saving_at(rows: Sequence[RoutingExample], quality: float) -> float:
    """What random mixing saves at the same quality share."""
    return saving_at(random_curve(rows, points=201), quality)


def labels_needed(rows: Sequence[RoutingExample], z: float, floor: float = FLOOR) -> float:
    """How many labels the bound needs before it lets random mixing spend half the loss budget: a router that
    knows only the set's mean loss. (z · sd / (budget / 2))², sd that of 1{routed} · loss."""
    strong = np.array([r.strong_quality for r in rows])
    loss = (strong - np.array([r.cheap_quality for r in rows])) / strong.mean()
    half = (1 - floor) / 2
    share = min(1.0, half / max(float(loss.mean()), 1e-9))
    variance = share * float((loss**2).mean()) - half**2
    return float((z * np.sqrt(max(variance, 0.0)) / half) ** 2)


def resampled_cascade(
    rows: Sequence[AnsweredExample], costs: Sequence[tuple[float, float]], requests: int, seed: int, z: float
) -> StreamResult:
    """A longer word-problem stream, drawn with replacement from GSM8K: the cascade's steady state. Repeats do
    not leak anything to it (it sees only the verifier's score and the labels it pays for)."""
    scores = cascade_verifier_scores(rows, seed)
    picks = np.random.default_rng(1000 + seed).integers(0, len(rows), requests)
    return cascade_stream([rows[i] for i in picks], [costs[i] for i in picks], scores[picks], seed, z)


def score_model(
    model: LearnedRouter, examples: Sequence[RoutingExample], x: Array, prices: Prices
) -> dict[str, dict[str, float]]:
    """The model as shipped, on every row of every set: where its own 95% λ lands, and its best saving at 95%."""
    from asahi.routing.training.evaluation import router_curve

    results = {}
    for name in sorted({e.dataset for e in examples}):
        index = [i for i, e in enumerate(examples) if e.dataset == name]
        rows = [examples[i] for i in index]
        assessed = offline_assessments(model, rows, x[index])
        saving = np.array([saving_terms(r, prices).at(a.answer_tokens) for r, a in zip(rows, assessed, strict=True)])
        loss = np.array([a.loss for a in assessed])
        cheap = np.array(
            [goes_cheap(a.loss, s, model.threshold(FLOOR, a.family)) for a, s in zip(assessed, saving, strict=True)]
        )
        strong_q = sum(r.strong_quality for r in rows)
        strong_c = sum(r.strong_cost for r in rows)
        quality = sum(r.cheap_quality if c else r.strong_quality for r, c in zip(rows, cheap, strict=True)) / strong_q
        cost = sum(r.cheap_cost if c else r.strong_cost for r, c in zip(rows, cheap, strict=True)) / strong_c
        ratio = np.where(saving > 0, loss / np.maximum(saving, 1e-9), np.inf)
        results[name] = {
            "rows": float(len(rows)),
            "quality_share": float(quality),
            "saving": float(1 - cost),
            "saving_at_95": saving_at(router_curve(rows, -ratio), FLOOR),
        }
    return results


def online_table(results: dict[str, dict[str, object]]) -> str:
    lines = [
        "| set | rows | starting model | quality kept (mean, min–max) | **saving net of verification** (mean, "
        "min–max) | second half alone: quality / saving | requests labelled | verification cost | answered by the "
        "cheap model | random mixing at the same quality | labels the bound needs (see below) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        q, s = r["quality_range"], r["saving_range"]
        assert isinstance(q, tuple) and isinstance(s, tuple)
        random = r.get("random")
        needed = r.get("labels_needed")
        lines.append(
            f"| {name} | {r['rows']} | {r['start']} | {r['quality_share']:.1%} ({q[0]:.1%}–{q[1]:.1%}) "
            f"| **{r['saving']:.1%}** ({s[0]:.1%}–{s[1]:.1%}) | {r['late_quality']:.1%} / {r['late_saving']:.1%} "
            f"| {r['shadow_share']:.1%} "
            f"| {r['verification_share']:.1%} | {r['cheap_share']:.1%} "
            f"| {'–' if random is None else f'{random:.1%}'} | {'–' if needed is None else f'{needed:.0f}'} |"
        )
    return "\n".join(lines)


def online_plot(results: dict[str, dict[str, object]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    for name, r in results.items():
        curve = np.array(r["curve"])
        style = "--" if "cascade" in name else "-"
        axes[0].plot(curve[:, 0], curve[:, 1], style, label=name)
        axes[1].plot(curve[:, 0], curve[:, 2], style, label=name)
    axes[0].axhline(FLOOR, color="grey", linewidth=0.8, linestyle=":")
    axes[0].set_ylabel("quality share so far")
    axes[1].axhline(0.0, color="grey", linewidth=0.8, linestyle=":")
    axes[1].set_ylabel("saving so far (net)")
    axes[1].set_xlabel("share of the set's requests seen")
    axes[0].legend(fontsize=8, ncol=2)
    axes[0].set_title("Online routing from no labels (mean over seeds)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


CASCADE = "gsm8k (cascade)"


def resampled_name(requests: int) -> str:
    return f"gsm8k (cascade, {requests:,} resampled)"


def judge_price(data_dir: Path, model: str) -> JudgePrice:
    with (data_dir / "model_prices" / "model_prices.csv").open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["model"] == model:
                return JudgePrice(float(row["input_usd_per_1m_tokens"]), float(row["output_usd_per_1m_tokens"]))
    raise SystemExit(f"no price for judge model {model!r} in model_prices.csv")


def online_section(results: dict[str, dict[str, object]], command: str, plotted: bool, z: float, judge: str) -> str:
    return "\n\n".join(
        [
            "## Online routing, measured",
            f"Command: `{command}`",
            online_table(results),
            "Each set is one org's traffic, streamed in a random order per seed (figures are the mean over seeds, "
            "with the range), from no labels. The starting model is the shipped recipe trained on every other set, "
            "so nothing was trained on the streamed set. A request picked for labelling is answered by the strong "
            "model while the cheap one runs off the path; its label is the set's own score difference. Every "
            "saving is net of the labels: the extra model call and, for open prompts, a judge call priced at "
            f"{judge} (rubric, prompt and both answers in, 100 tokens out); multiple choice and word problems "
            f"compare answers exactly, at no cost. Bounds at z = {z:g} standard errors. Cascade rows: every word "
            "problem is answered by the cheap model first and escalated when the verifier (trained on the other "
            "folds) and the org's calibrated threshold say so; the resampled row streams that many problems drawn "
            "with replacement from GSM8K to show the steady state. The second half alone is where an org stands once "
            "the first half has calibrated it. Random mixing: the share of cost it saves at "
            "the same quality. Labels the bound needs: before it lets a router that knows only the set's mean "
            "loss spend half the loss budget ((z · sd / 0.025)², sd that of the loss of a request so routed); a "
            "set with fewer rows than that cannot open in one pass.",
            "![online routing over time](routing-online.png)" if plotted else "(matplotlib not installed: no plot)",
        ]
    )


def main(args: Any, command: str, embed: Callable[[list[str]], npt.NDArray[np.float32]]) -> str | None:
    """`routing_eval.py --online` / `--model`: prints the table (or JSON) and returns the doc section, if any."""
    from asahi.routing.training.datasets import load_examples, load_prices
    from asahi.routing.training.train import design_matrix

    examples = load_examples(args.data)
    prices = load_prices(args.data)
    embeddings = embed([e.text for e in examples])
    x = design_matrix(examples, embeddings)
    if not args.online:
        scored = score_model(LearnedRouter.load(args.model), examples, x, prices)
        if args.json:
            print(json.dumps({"datasets": {name: {"model": r} for name, r in scored.items()}}))
        else:
            for name, r in scored.items():
                print(
                    f"{name}: rows {r['rows']:.0f}, at its 95% λ quality {r['quality_share']:.1%} saving "
                    f"{r['saving']:.1%}; best saving at 95% {r['saving_at_95']:.1%}"
                )
        return None

    judge = judge_price(args.data, args.judge_model)
    results: dict[str, dict[str, object]] = {}
    for name in sorted({e.dataset for e in examples}):
        index = [i for i, e in enumerate(examples) if e.dataset == name]
        rows = [examples[i] for i in index]
        model = (
            LearnedRouter.load(args.model) if args.model else unseen_model(examples, x, prices, name, args.cache)
        )
        assessed = offline_assessments(model, rows, x[index])
        runs = [
            stream(rows, assessed, embeddings[index], model, prices, judge, seed, args.z) for seed in range(args.seeds)
        ]
        summary = summarise(runs)
        quality = summary["quality_share"]
        assert isinstance(quality, float)
        summary |= {
            "rows": len(rows),
            "start": args.model.name if args.model else "trained without this set",
            "random": random_saving_at(rows, quality),
            "labels_needed": labels_needed(rows, args.z),
        }
        results[name] = summary
        if name == "gsm8k":
            answered, costs = cascade_inputs(args.data, prices)
            cascade_runs = [
                cascade_stream(answered, costs, cascade_verifier_scores(answered, seed), seed, args.z)
                for seed in range(args.seeds)
            ]
            results[CASCADE] = summarise(cascade_runs) | {
                "rows": len(answered),
                "start": "verifier trained on the other folds",
            }
            resampled = [
                resampled_cascade(answered, costs, args.resampled, seed, args.z) for seed in range(args.seeds)
            ]
            results[resampled_name(args.resampled)] = summarise(resampled) | {
                "rows": args.resampled,
                "start": "verifier trained on the other folds",
            }
    if args.json:
        payload: dict[str, dict[str, object]] = {}
        keys = {CASCADE: ("gsm8k", "cascade"), resampled_name(args.resampled): ("gsm8k", "cascade_resampled")}
        for name, r in results.items():
            dataset, mode = keys.get(name, (name, "online"))
            payload.setdefault(dataset, {})[mode] = {k: r[k] for k in ("quality_share", "saving", "shadow_share")}
        print(json.dumps({"datasets": payload}))
        return None
    plotted = online_plot(results, args.docs / "routing-online.png")
    print(online_table(results))
    return online_section(results, command, plotted, args.z, args.judge_model)
