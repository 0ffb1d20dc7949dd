"""How much better than a static threshold can any rule over these similarities be on QQP?

Tier 2's 2x target asks for twice the recall of the best static threshold at the same false-hit rate. A policy
can only beat a threshold on MiniLM's cosine by knowing more than that cosine. This measures the most that the
features at hand give: on labelled QQP pairs, a logistic regression over MiniLM's cosine, the static table's
cosine and lexical overlap features, fitted on one half of the pairs and scored on the other (with hindsight,
so generous), against MiniLM's cosine alone, as recall of duplicates at a fixed share of wrong pairs.
QQP is research-only data: this fits for measurement only, and nothing fitted here ships.

    python bench/qqp_ceiling.py [--data DIR] [--pairs 8000]
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from asahi.embeddings.local import TOKENIZER_PATH, LocalEmbedder
from asahi.embeddings.static import StaticEmbedder

ROOT = Path(__file__).resolve().parents[1]
FEATURES = ("MiniLM cosine", "static cosine", "shared pieces (Jaccard)", "length ratio", "same numbers")
WRONG_SHARES = (0.01, 0.02, 0.05)


def features(a: list[str], b: list[str]) -> np.ndarray:
    minilm, static = LocalEmbedder(), StaticEmbedder()
    tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
    cos_m = (minilm.embed_sync(a) * minilm.embed_sync(b)).sum(axis=1)
    cos_s = (static.embed_sync(a) * static.embed_sync(b)).sum(axis=1)
    rows = []
    for x, y in zip(a, b, strict=True):
        px = set(tokenizer.encode(x, add_special_tokens=False).tokens)
        py = set(tokenizer.encode(y, add_special_tokens=False).tokens)
        numbers_x, numbers_y = {t for t in px if t.isdigit()}, {t for t in py if t.isdigit()}
        rows.append([len(px & py) / max(len(px | py), 1), min(len(px), len(py)) / max(len(px), len(py), 1),
                     float(numbers_x == numbers_y)])
    return np.column_stack([cos_m, cos_s, np.array(rows)])


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-2) -> np.ndarray:
    """MAP logistic regression by Newton's method."""
    x1 = np.column_stack([x, np.ones(len(x))])
    w = np.zeros(x1.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-x1 @ w))
        hessian = (x1 * (p * (1 - p))[:, None]).T @ x1 + l2 * np.eye(len(w))
        w += np.linalg.solve(hessian, x1.T @ (y - p) - l2 * w)
    return w


def recall_at(scores: np.ndarray, y: np.ndarray, wrong_share: float) -> float:
    """Duplicates caught by the best threshold whose wrong pairs stay within `wrong_share` of all pairs."""
    ranked = y[np.argsort(-scores)]
    wrong = np.cumsum(1 - ranked) / len(ranked)
    caught = np.cumsum(ranked) / ranked.sum()
    within = wrong <= wrong_share
    return float(caught[within].max()) if within.any() else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--pairs", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with (args.data / "qqp_gptcache" / "dev.jsonl").open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rows = random.Random(args.seed).sample(rows, min(args.pairs, len(rows)))
    x = features([r["question1"] for r in rows], [r["question2"] for r in rows])
    y = np.array([r["is_duplicate"] for r in rows], dtype=np.float64)
    order = np.random.default_rng(args.seed).permutation(len(y))
    train, test = order[: len(y) // 2], order[len(y) // 2 :]
    w = fit(x[train], y[train])
    combined = np.column_stack([x[test], np.ones(len(test))]) @ w
    print(f"QQP, {len(test)} held-out pairs ({y[test].mean():.0%} duplicates); features: {', '.join(FEATURES)}")
    print("| wrong pairs ≤ | MiniLM cosine alone | static cosine alone | all features, fitted | ratio |")
    print("|---|---|---|---|---|")
    for share in WRONG_SHARES:
        alone = recall_at(x[test, 0], y[test], share)
        best = recall_at(combined, y[test], share)
        print(f"| {share:.0%} | {alone:.3f} | {recall_at(x[test, 1], y[test], share):.3f} | {best:.3f} | "
              f"{best / alone:.2f}× |")


if __name__ == "__main__":
    main()
