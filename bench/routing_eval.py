"""Cost against quality of the learned router on the routing sets, against always-strong, always-cheap and
random mixing, measured only on held-out rows (k-fold within each set; AlpacaEval never trained on).

    python bench/routing_eval.py [--data DIR] [--json] [--seeds N] [--docs DIR]
    python bench/routing_eval.py --online [--model PATH] [--z Z] [--judge-model NAME] [--resampled N] [--seeds N]
                                 [--json]
    python bench/routing_eval.py --model PATH [--json]

Writes the results section of DIR/routing.md (default docs/) and DIR/routing-curve.png (when matplotlib is
installed). With --json, prints one JSON object instead of the table:
{"datasets": {NAME: {"saving_at_95": {"asahi": x, "random": y}, "curve": [[cost_share, quality_share], ...]}}}.

--online streams each set in random order as one org's traffic (per seed), routed online from no labels,
starting from the shipped recipe trained on every other set (or from --model), and writes its own section and
DIR/routing-online.png; with --json: {"datasets": {NAME: {"online": {"quality_share": q, "saving": s,
"shadow_share": r}}}} (GSM8K also has "cascade"). --model alone scores that model file as it is, with its own
λ for a 95% floor, on every row of every set (no retraining; rows it was trained on are not held out).
Embeddings are cached under bench/.out/routing/ (or --cache DIR).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt

from asahi.embeddings.local import LocalEmbedder
from asahi.routing.online.bound import Z
from asahi.routing.training.datasets import (
    EVALUATION_ONLY,
    STRONG_MODEL,
    Prices,
    RoutingExample,
    load_examples,
    load_prices,
)
from asahi.routing.training.evaluation import Curve, random_curve, router_curve, saving_at
from asahi.routing.training.train import (
    FLOORS,
    calibrate,
    cross_validated_scores,
    design_matrix,
    family_of,
    scored_rows,
)

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- routing-eval:start -->", "<!-- routing-eval:end -->"
ONLINE_START, ONLINE_END = "<!-- routing-online:start -->", "<!-- routing-online:end -->"
CURVE_POINTS = 101


class CachedEmbedder:
    """The local embedder behind an on-disk cache keyed by text digest: the sets take minutes to embed."""

    def __init__(self, cache_dir: Path) -> None:
        self._path = cache_dir / "embeddings.npz"
        self._cache: dict[str, npt.NDArray[np.float32]] = {}
        if self._path.exists():
            with np.load(self._path) as data:
                self._cache = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha256(f"{LocalEmbedder.name}\n{text}".encode()).hexdigest()

    def __call__(self, texts: list[str]) -> npt.NDArray[np.float32]:
        missing = sorted({t for t in texts if self._key(t) not in self._cache}, key=len)
        if missing:
            embedder = LocalEmbedder()
            for i in range(0, len(missing), 32):
                batch = missing[i : i + 32]
                for text, vector in zip(batch, embedder.embed_sync(batch), strict=True):
                    self._cache[self._key(text)] = vector
            self._path.parent.mkdir(parents=True, exist_ok=True)
            keys = list(self._cache)
            np.savez(self._path, keys=np.array(keys), vectors=np.stack([self._cache[k] for k in keys]))
        return np.stack([self._cache[self._key(t)] for t in texts])


def thin(curve: Curve, points: int = CURVE_POINTS) -> Curve:
    """Evenly spaced points of a long curve, both ends kept, for JSON and plots."""
    if len(curve) <= points:
        return curve
    picks = np.unique(np.linspace(0, len(curve) - 1, points).round().astype(int))
    return [curve[i] for i in picks]


def operating_point(rows: list[RoutingExample], cheap: npt.NDArray[np.bool_]) -> tuple[float, float]:
    """(quality share, cost share saved) of always-strong when the `cheap` rows go to the cheap model."""
    strong_q = sum(r.strong_quality for r in rows)
    quality = sum(r.cheap_quality if c else r.strong_quality for r, c in zip(rows, cheap, strict=True)) / strong_q
    strong_c = sum(r.strong_cost for r in rows)
    cost = sum(r.cheap_cost if c else r.strong_cost for r, c in zip(rows, cheap, strict=True)) / strong_c
    return quality, 1 - cost


def evaluate(
    examples: list[RoutingExample], prices: Prices, embed: CachedEmbedder, seeds: int
) -> dict[str, dict[str, object]]:
    x = design_matrix(examples, embed([e.text for e in examples]))
    # Each row's score is what the router decides by: expected quality loss per token saved, the saving
    # estimated from the prompt and the predicted answer length, never from the row's recorded cost.
    runs = [cross_validated_scores(examples, x, prices, seed=seed) for seed in range(seeds)]
    # The product's own operating point: each family's λ for a 95% floor, calibrated on the same held-out scores
    # (every set with 100+ rows of the family keeping the floor as a whole, as `asahi router train` does), applied
    # to every row.
    family = family_of(examples)
    floor = int(np.flatnonzero(np.isclose(FLOORS, 0.95))[0])
    lambdas = [calibrate(examples, scores)[:, floor][family] for scores in runs]
    results: dict[str, dict[str, object]] = {}
    for name in sorted({e.dataset for e in examples}):
        mask = scored_rows(examples, name)
        rows = [e for e, m in zip(examples, mask, strict=True) if m]
        if not rows:
            continue
        curves = [router_curve(rows, scores[mask]) for scores in runs]
        savings = [saving_at(curve, 0.95) for curve in curves]
        deployed = [
            operating_point(rows, -scores[mask] <= lam[mask]) for scores, lam in zip(runs, lambdas, strict=True)
        ]
        rand = random_curve(rows)
        strong = sum(r.strong_quality for r in rows) / len(rows)
        results[name] = {
            "rows": len(rows),
            "trained_on": name not in EVALUATION_ONLY,
            "strong_quality": strong,
            "cheap": rand[-1],
            "asahi": savings,
            "random": saving_at(rand, 0.95),
            "deployed": tuple(float(v) for v in np.mean(deployed, axis=0)),
            "curve": thin(curves[0]),
            "random_curve": rand,
        }
    return results


def table(results: dict[str, dict[str, object]]) -> str:
    lines = [
        "| set | held-out rows | trained on | always-strong quality | always-cheap cost / quality "
        "| random: saved at 95% | **Asahi: saved at 95%** (mean, min–max over fold seeds) "
        "| Asahi at its calibrated 95% threshold: quality / saved |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        savings = r["asahi"]
        assert isinstance(savings, list)
        cheap, deployed = r["cheap"], r["deployed"]
        assert isinstance(cheap, tuple) and isinstance(deployed, tuple)
        lines.append(
            f"| {name} | {r['rows']} | {'yes' if r['trained_on'] else 'no (held out entirely)'} "
            f"| {r['strong_quality']:.3f} | {cheap[0]:.1%} / {cheap[1]:.1%} | {r['random']:.1%} "
            f"| **{np.mean(savings):.1%}** ({min(savings):.1%}–{max(savings):.1%}) "
            f"| {deployed[0]:.1%} / {deployed[1]:.1%} |"
        )
    return "\n".join(lines)


def plot(results: dict[str, dict[str, object]], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, len(results), figsize=(4 * len(results), 3.6), squeeze=False)
    for ax, (name, r) in zip(axes[0], results.items(), strict=True):
        for key, label, style in (("curve", "Asahi router", "-"), ("random_curve", "random mix", "--")):
            points = r[key]
            assert isinstance(points, list)
            ax.plot([p[0] for p in points], [p[1] for p in points], style, label=label)
        ax.plot([1.0], [1.0], "o", label="always strong")
        cheap = r["cheap"]
        assert isinstance(cheap, tuple)
        ax.plot([cheap[0]], [cheap[1]], "s", label="always cheap")
        ax.axhline(0.95, color="grey", linewidth=0.8, linestyle=":")
        ax.set_title(f"{name} ({r['rows']} held-out rows)")
        ax.set_xlabel("cost share of always-strong")
        ax.set_ylabel("quality share of always-strong")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write_doc(path: Path, section: str, start: str = START, end: str = END) -> None:
    """Replace the generated section of the doc, keeping the hand-written text around it."""
    block = f"{start}\n{section}\n{end}"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Routing\n"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of writing docs")
    parser.add_argument("--seeds", type=int, default=3, help="fold assignments to average over")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs")
    parser.add_argument("--cache", type=Path, default=ROOT / "bench" / ".out" / "routing")
    parser.add_argument("--online", action="store_true", help="stream each set as one org's traffic, routed online")
    parser.add_argument("--model", type=Path, help="a model file: scored as is, or with --online the starting point")
    parser.add_argument("--z", type=float, default=Z, help="confidence of the online bounds (standard errors)")
    parser.add_argument("--judge-model", default=STRONG_MODEL, help="priced judge for open prompts (model_prices)")
    parser.add_argument("--resampled", type=int, default=5000, help="word problems in the long cascade stream")
    args = parser.parse_args(argv)
    command = "python bench/routing_eval.py" + "".join(f" {shlex.quote(a)}" for a in (argv or sys.argv[1:]))
    if args.online or args.model:
        sys.path.insert(0, str(Path(__file__).resolve().parent))  # its sibling, however this file was loaded
        import routing_online

        section = routing_online.main(args, command, CachedEmbedder(args.cache))
        if section is not None:
            write_doc(args.docs / "routing.md", section, ONLINE_START, ONLINE_END)
        return 0

    examples = load_examples(args.data)
    results = evaluate(examples, load_prices(args.data), CachedEmbedder(args.cache), args.seeds)
    if args.json:
        payload = {
            name: {
                "saving_at_95": {"asahi": float(np.mean(r["asahi"])), "random": r["random"]},  # type: ignore[arg-type]
                "curve": [list(p) for p in r["curve"]],  # type: ignore[attr-defined]
            }
            for name, r in results.items()
        }
        print(json.dumps({"datasets": payload}))
        return 0

    plotted = plot(results, args.docs / "routing-curve.png")
    section = "\n\n".join(
        [
            "## Measured results",
            f"Command: `{command}`",
            table(results),
            "Cost and quality are shares of always using the strong model (GPT-4 Turbo) on the same rows; the "
            'cheap model is Mixtral-8x7B. "Saved at 95%" is the share of the always-strong cost saved while '
            "keeping at least 95% of its quality, read from the best point of the held-out cost–quality curve "
            "(rows ranked by expected quality loss per token saved, the saving estimated from the prompt and the "
            "predicted answer length); random mixing is its expected value. The last column is where the "
            "product's own rule lands: each prompt family's λ for a 95% floor (multiple choice, word problems, "
            "other open prompts), calibrated on these held-out scores so that MMLU, GSM8K and Arena each keep it "
            "as a whole, applied to each set (mean over fold seeds).",
            "![cost against quality](routing-curve.png)" if plotted else "(matplotlib not installed: no curve)",
        ]
    )
    write_doc(args.docs / "routing.md", section)
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
