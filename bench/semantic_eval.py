"""Replay labelled query streams through tier 2 and measure hits, wrong hits, precision and recall.

Each dataset becomes a stream of unique prompts in random order, each with an answer group: two prompts share
a group when the dataset says one's answer serves the other (a duplicate pair, the same intent). Every prompt is
looked up, then stored unless it was served. A hit is correct when the served entry is in the prompt's group.

    hit_rate = hits / lookups                 false_hit_rate = wrong hits / lookups
    precision = correct hits / hits           recall = correct hits / lookups that had a same-group entry stored

Methods: `asahi@δ` is the real `SemanticCache` on the in-memory index. It learns only from the labels it would
get in production: a not-served candidate is compared with the fresh upstream answer (here: are the groups
equal?) after the decision, and a sampled share of would-be hits is verified the same way. `static@0.80` is
GPTCache's default (cosine ≥ 0.8 on the similarity the decision uses). `static@delta` is the static threshold
with the best recall whose false-hit rate is at most 0.02 (asahi@0.02's bound), and `static@same_fhr` the one
whose false-hit rate is at most asahi@0.02's own, both picked with hindsight on the same stream: oracle choices,
generous to the baseline.

Embedders, side by side: `two-stage` (the default: the static table searches, MiniLM confirms the candidates
whose static cosine reaches the gate; `minilm_share` is the share of lookups that ran MiniLM), `minilm` (MiniLM
alone) and `static` (the static table alone). The static baselines of `two-stage` threshold MiniLM's cosine, the
similarity its policy decides on. The top-level `datasets` and `overall` are the two-stage's; the others run
δ = 0.02 only and are under `embedders`.

    python bench/semantic_eval.py [--data DIR] [--subsample N] [--json] [--write-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import re
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from asahi.cache.semantic.cache import SemanticCache
from asahi.cache.semantic.confirm import Confirmation
from asahi.cache.semantic.vetoes import DEFAULT_VETOES, VETOES
from asahi.cache.vectors.memory import MemoryVectorIndex
from asahi.embeddings.base import Vectors
from asahi.embeddings.local import LocalEmbedder
from asahi.embeddings.static import StaticEmbedder

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / ".out"
DELTAS = (0.01, 0.02, 0.05)
GPTCACHE_DEFAULT = 0.8
NEIGHBOURS = 10  # earlier prompts remembered per prompt for the static sweep
SWEEP = [round(0.5 + 0.005 * i, 3) for i in range(101)]  # static thresholds tried: 0.500 .. 1.000
METHODS = ("asahi@0.01", "asahi@0.02", "asahi@0.05", "static@0.80", "static@delta", "static@same_fhr")
SIDE_METHODS = ("asahi@0.02", "static@0.80", "static@delta", "static@same_fhr")
STATIC_DELTA = 0.02
EMBEDDERS = ("two-stage", "minilm", "static")
VERIFY_SAMPLE_RATE = 0.05


@dataclass(slots=True)
class Stream:
    texts: list[str]
    groups: list[str]


@dataclass(slots=True)
class Counts:
    lookups: int = 0
    hits: int = 0
    wrong: int = 0
    answerable: int = 0  # lookups for which a same-group entry was stored
    caught: int = 0  # correct hits among those
    confirmed: int | None = None  # lookups that ran the confirming model (two-stage only)

    def add(self, other: Counts) -> None:
        self.lookups += other.lookups
        self.hits += other.hits
        self.wrong += other.wrong
        self.answerable += other.answerable
        self.caught += other.caught
        if other.confirmed is not None:
            self.confirmed = (self.confirmed or 0) + other.confirmed

    def metrics(self) -> dict[str, float]:
        out = {
            "hit_rate": self.hits / self.lookups if self.lookups else 0.0,
            "false_hit_rate": self.wrong / self.lookups if self.lookups else 0.0,
            "precision": (self.hits - self.wrong) / self.hits if self.hits else 1.0,
            "recall": self.caught / self.answerable if self.answerable else 0.0,
        }
        if self.confirmed is not None:
            out["minilm_share"] = self.confirmed / self.lookups if self.lookups else 0.0
        return out


# --- datasets -------------------------------------------------------------------------------------------------

def _rows(data: Path, name: str) -> list[dict[str, Any]]:
    path = data / name / "dev.jsonl"
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


class _Groups:
    """Union-find over normalised texts: exact repeats and labelled duplicates share one answer group."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}
        self.original: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def add(self, text: str, same_as: str | None = None) -> None:
        key = _norm(text)
        if not key:
            return
        self.original.setdefault(key, text.strip())
        root = self.find(key)
        if same_as is not None and _norm(same_as):
            self.parent[root] = self.find(_norm(same_as))

    def stream(self, seed: int) -> Stream:
        keys = sorted(self.original)
        random.Random(seed).shuffle(keys)
        return Stream([self.original[k] for k in keys], [self.find(k) for k in keys])


def _pairs(rows: Iterable[dict[str, Any]], a: str, b: str, same: Callable[[dict[str, Any]], bool],
           seed: int) -> Stream:
    groups = _Groups()
    for row in rows:
        groups.add(row[a])
        groups.add(row[b], row[a] if same(row) else None)
    return groups.stream(seed)


def _intents(rows: Iterable[dict[str, Any]], seed: int) -> Stream:
    groups = _Groups()
    first: dict[str, str] = {}
    for row in rows:
        intent = row["intent"]
        if intent == "oos":  # out-of-scope prompts answer nothing but themselves
            groups.add(row["text"])
        else:
            groups.add(row["text"], first.setdefault(intent, row["text"]))
    return groups.stream(seed)


def load_streams(data: Path, subsample: int | None, seed: int) -> dict[str, Stream]:
    def sample(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if subsample is None or len(rows) <= subsample:
            return rows
        return random.Random(seed).sample(rows, subsample)

    builders: dict[str, Callable[[list[dict[str, Any]]], Stream]] = {
        "qqp_gptcache": lambda r: _pairs(r, "question1", "question2", lambda x: x["is_duplicate"] == 1, seed),
        "gptcache_mock_pairs": lambda r: _pairs(r, "origin", "similar", lambda x: x["is_duplicate"] == 1, seed),
        "banking77": lambda r: _intents(r, seed),
        "clinc150": lambda r: _intents(r, seed),
        "mrpc_test": lambda r: _pairs(r, "sentence1", "sentence2", lambda x: x["is_paraphrase"] == 1, seed),
        "stsb_test": lambda r: _pairs(r, "sentence1", "sentence2", lambda x: x["paraphrase_label"] == 1, seed),
    }
    streams = {}
    for name, build in builders.items():
        rows = _rows(data, name)
        if rows:
            streams[name] = build(sample(rows))
    return streams


# --- embeddings, cached on disk -------------------------------------------------------------------------------

def embed_cached(texts: list[str], embedder: LocalEmbedder | StaticEmbedder, cache_dir: Path) -> np.ndarray:
    """Embed with a per-text disk cache, so reruns and subsamples only embed what is new."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / (re.sub(r"\W+", "_", embedder.name) + ".npz")
    known: dict[bytes, np.ndarray] = {}
    if path.exists():
        saved = np.load(path)
        # numpy drops trailing NUL bytes of fixed-width bytes: pad the 20-byte digests back
        known = {k.ljust(20, b"\0"): v for k, v in zip(saved["keys"].tolist(), saved["vectors"], strict=True)}
    keys = [hashlib.sha1(t.encode()).digest() for t in texts]
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in known}.items(),
                     key=lambda kv: len(kv[1]))  # similar lengths per batch: less padding
    for start in range(0, len(missing), 64):
        batch = missing[start : start + 64]
        for (key, _), vector in zip(batch, embedder.embed_sync([t for _, t in batch]), strict=True):
            known[key] = vector
        if (start + 64) % 2048 == 0 or start + 64 >= len(missing):  # save as we go: a long run may be stopped
            np.savez(path, keys=np.array(list(known), dtype="S20"), vectors=np.stack(list(known.values())))
            print(f"  embedded {start + len(batch)}/{len(missing)}", file=sys.stderr)
    return np.stack([known[k] for k in keys]).astype(np.float32)


# --- replays --------------------------------------------------------------------------------------------------

class Precomputed:
    """The confirming model, replayed: each text's MiniLM vector from the disk cache; counts the lookups it ran."""

    name = "precomputed"

    def __init__(self, texts: list[str], vectors: np.ndarray) -> None:
        self.dimension = vectors.shape[1]
        self._row = {t: i for i, t in enumerate(texts)}
        self._vectors = vectors
        self.queries: set[str] = set()

    async def embed(self, texts: list[str]) -> Vectors:
        self.queries.add(texts[0])  # a confirmation embeds the prompt first
        rows: Vectors = self._vectors[[self._row[t] for t in texts]]
        return rows

    async def aclose(self) -> None:
        return None


async def replay_asahi(stream: Stream, vectors: np.ndarray, delta: float, vetoes: tuple[str, ...],
                       seed: int, inherit: bool = True, confirm_vectors: np.ndarray | None = None) -> Counts:
    """`confirm_vectors`: replay the two-stage lookup, `vectors` searched and these confirming."""
    model = None if confirm_vectors is None else Precomputed(stream.texts, confirm_vectors)
    cache = SemanticCache(MemoryVectorIndex(vectors.shape[1]), delta=delta,
                          verify_sample_rate=VERIFY_SAMPLE_RATE, vetoes=vetoes, rng=random.Random(seed),
                          confirmation=None if model is None else Confirmation(model))
    group_of: dict[str, str] = {}
    stored: Counter[str] = Counter()
    counts = Counts(confirmed=None if model is None else 0)
    for i, (text, group) in enumerate(zip(stream.texts, stream.groups, strict=True)):
        decision = await cache.lookup("eval", "ctx", text, vectors[i])
        counts.lookups += 1
        answerable = stored[group] > 0
        counts.answerable += answerable
        if decision.hit and decision.entry is not None:
            correct = group_of[decision.entry.id] == group
            counts.hits += 1
            counts.wrong += not correct
            counts.caught += correct and answerable
            continue
        same_as = None
        if decision.verify and decision.entry is not None:  # the fresh answer arrives after the decision
            agree = group_of[decision.entry.id] == group
            cache.record_label("eval", decision.entry.id, decision.similarity, agree)
            same_as = decision.entry.id if agree and inherit else None
        entry_id = str(i)
        stored_entry = await cache.store("eval", "ctx", text, vectors[i], b"", group, entry_id=entry_id,
                                         same_answer_as=same_as, confirm_vector=decision.confirmed)
        group_of[entry_id] = group
        stored[group] += 1
        for evicted in stored_entry.evicted:
            stored[group_of[evicted]] -= 1
    if model is not None:
        counts.confirmed = len(model.queries)
    return counts


def earlier_neighbours(vectors: np.ndarray, k: int = NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
    """For each prompt, its k most similar earlier prompts (ids, similarities), best first; -1 pads."""
    n = len(vectors)
    ids = np.full((n, k), -1, dtype=np.int64)
    sims = np.full((n, k), -np.inf, dtype=np.float32)
    for start in range(1, n, 512):
        stop = min(start + 512, n)
        block = vectors[start:stop] @ vectors[:stop].T
        block[np.arange(stop - start)[:, None] <= np.arange(stop)[None, :] - start] = -np.inf
        take = min(k, stop)
        top = np.argpartition(-block, take - 1, axis=1)[:, :take]
        top_sims = np.take_along_axis(block, top, axis=1)
        order = np.argsort(-top_sims, axis=1)
        ids[start:stop, :take] = np.take_along_axis(top, order, axis=1)
        sims[start:stop, :take] = np.take_along_axis(top_sims, order, axis=1)
    ids[~np.isfinite(sims)] = -1
    return ids, sims


def replay_static(stream: Stream, ids: np.ndarray, sims: np.ndarray, threshold: float) -> Counts:
    """GPTCache's rule: serve the nearest stored prompt when its cosine is ≥ threshold, else store this one."""
    stored = np.zeros(len(stream.texts), dtype=bool)
    per_group: Counter[str] = Counter()
    counts = Counts()
    groups = stream.groups
    for i, group in enumerate(groups):
        counts.lookups += 1
        answerable = per_group[group] > 0
        counts.answerable += answerable
        nearest, similarity = next(((j, s) for j, s in zip(ids[i], sims[i], strict=True) if j >= 0 and stored[j]),
                                   (-1, -1.0))
        if nearest >= 0 and similarity >= threshold:
            correct = groups[nearest] == group
            counts.hits += 1
            counts.wrong += not correct
            counts.caught += correct and answerable
            continue
        stored[i] = True
        per_group[group] += 1
    return counts


# --- the run --------------------------------------------------------------------------------------------------

def best_static(sweep: dict[float, Counts], max_fhr: float) -> tuple[float, Counts]:
    allowed = [(c.caught, -t, t, c) for t, c in sweep.items() if c.metrics()["false_hit_rate"] <= max_fhr]
    if not allowed:
        return 1.01, Counts(lookups=next(iter(sweep.values())).lookups)
    _, _, threshold, counts = max(allowed, key=lambda x: (x[0], x[1]))
    return threshold, counts


async def evaluate_one(streams: dict[str, Stream], vectors: dict[str, tuple[np.ndarray, np.ndarray | None]],
                       seed: int, deltas: tuple[float, ...], ablation: bool) -> dict[str, Any]:
    """One embedder: `vectors[name]` = (searched, confirming or None). Static baselines threshold the
    confirming similarity when there is one, the searched one otherwise."""
    per: dict[str, dict[str, Counts]] = {}
    sweeps: dict[str, dict[float, Counts]] = {}
    chosen: dict[str, dict[str, float]] = defaultdict(dict)
    extra: dict[str, dict[str, Counts]] = defaultdict(dict)
    for name, stream in streams.items():
        started = time.perf_counter()
        searched, confirming = vectors[name]
        per[name] = {f"asahi@{d:.2f}": await replay_asahi(stream, searched, d, DEFAULT_VETOES, seed,
                                                          confirm_vectors=confirming) for d in deltas}
        if ablation:
            variants = {"none": (), **{v: (v,) for v in VETOES}, "all": tuple(VETOES)}
            for label, vetoes in variants.items():
                extra[name][f"asahi@0.02 vetoes={label}"] = await replay_asahi(
                    stream, searched, 0.02, vetoes, seed, confirm_vectors=confirming)
        ids, sims = earlier_neighbours(searched if confirming is None else confirming)
        sweeps[name] = {t: replay_static(stream, ids, sims, t) for t in SWEEP}
        per[name]["static@0.80"] = sweeps[name][GPTCACHE_DEFAULT]
        chosen[name]["static@delta"], per[name]["static@delta"] = best_static(sweeps[name], STATIC_DELTA)
        chosen[name]["static@same_fhr"], per[name]["static@same_fhr"] = best_static(
            sweeps[name], per[name]["asahi@0.02"].metrics()["false_hit_rate"])
        print(f"  {name}: {len(stream.texts)} prompts in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    methods = [m for m in per[next(iter(per))] if not m.startswith("static@same_fhr") and m != "static@delta"]
    overall: dict[str, Counts] = {m: Counts() for m in methods}
    for name in per:
        for method, counts in overall.items():
            counts.add(per[name][method])
    pooled: dict[float, Counts] = {t: Counts() for t in SWEEP}
    for name in sweeps:
        for t in SWEEP:
            pooled[t].add(sweeps[name][t])
    chosen["overall"]["static@delta"], overall["static@delta"] = best_static(pooled, STATIC_DELTA)
    chosen["overall"]["static@same_fhr"], overall["static@same_fhr"] = best_static(
        pooled, overall["asahi@0.02"].metrics()["false_hit_rate"])
    return {
        "datasets": {n: {m: c.metrics() for m, c in methods.items()} for n, methods in per.items()},
        "overall": {m: c.metrics() for m, c in overall.items()},
        "thresholds": dict(chosen),
        "lookups": {n: per[n]["asahi@0.02"].lookups for n in per},
        "ablation": {n: {m: c.metrics() for m, c in v.items()} for n, v in extra.items()},
    }


async def evaluate(streams: dict[str, Stream], vectors: dict[str, dict[str, tuple[np.ndarray, np.ndarray | None]]],
                   seed: int, ablation: bool) -> dict[str, Any]:
    """`vectors[embedder][dataset]`; the first embedder is the default and runs every δ and the ablation."""
    results: dict[str, Any] = {}
    for i, (embedder, by_set) in enumerate(vectors.items()):
        print(f" {embedder}", file=sys.stderr)
        results[embedder] = await evaluate_one(streams, by_set, seed, DELTAS if i == 0 else (0.02,),
                                               ablation and i == 0)
    return results


def markdown(results: dict[str, Any], command: str) -> str:
    default, result = next(iter(results.items()))
    lines = [f"Command: `{command}`  ", f"Default embedder: `{default}`, verify sample rate {VERIFY_SAMPLE_RATE}.",
             "", "| dataset | lookups | method | hit rate | false-hit rate | precision | recall |",
             "|---|---|---|---|---|---|---|"]
    lookups = result["lookups"]
    blocks = [*result["datasets"].items(), ("overall", result["overall"])]
    for name, methods in blocks:
        n = lookups.get(name, sum(lookups.values()))
        for method in METHODS:
            m = methods[method]
            label = method
            if method in result["thresholds"][name]:
                label += f" (τ={result['thresholds'][name][method]:.3f})"
            lines.append(f"| {name} | {n} | {label} | {m['hit_rate']:.3f} | {m['false_hit_rate']:.4f} | "
                         f"{m['precision']:.3f} | {m['recall']:.3f} |")
    lines += ["", "Side by side at δ = 0.02 (asahi@0.02; static@delta: the best static threshold with a false-hit "
              "rate ≤ 0.02; MiniLM share: lookups that ran MiniLM):", "",
              "| dataset | embedder | hit rate | false-hit rate | precision | recall | static@delta recall (τ) | "
              "recall ÷ static@delta | MiniLM share |", "|---|---|---|---|---|---|---|---|---|"]
    for name in [*result["datasets"], "overall"]:
        for embedder, r in results.items():
            methods = r["overall"] if name == "overall" else r["datasets"][name]
            m, base = methods["asahi@0.02"], methods["static@delta"]
            ratio = f"{m['recall'] / base['recall']:.2f}×" if base["recall"] else "n/a"
            share = {"minilm": "1.000", "static": "0"}.get(embedder, f"{m.get('minilm_share', 0):.3f}")
            lines.append(f"| {name} | {embedder} | {m['hit_rate']:.3f} | {m['false_hit_rate']:.4f} | "
                         f"{m['precision']:.3f} | {m['recall']:.3f} | {base['recall']:.3f} "
                         f"({r['thresholds'][name]['static@delta']:.3f}) | {ratio} | {share} |")
    if result["ablation"]:
        lines += ["", f"Veto ablation (asahi@0.02, {default}):", "",
                  "| dataset | vetoes | hit rate | false-hit rate | precision | recall |", "|---|---|---|---|---|---|"]
        for name, variants in result["ablation"].items():
            for label, m in variants.items():
                lines.append(f"| {name} | {label.split('=')[1]} | {m['hit_rate']:.3f} | "
                             f"{m['false_hit_rate']:.4f} | {m['precision']:.3f} | {m['recall']:.3f} |")
    return "\n".join(lines) + "\n"


def write_docs(table: str) -> None:
    path = ROOT / "docs" / "semantic-cache.md"
    text = path.read_text(encoding="utf-8")
    start, end = "<!-- eval:start -->", "<!-- eval:end -->"
    head, _, rest = text.partition(start)
    _, _, tail = rest.partition(end)
    path.write_text(f"{head}{start}\n{table}{end}{tail}", encoding="utf-8")


def shown_args(argv: list[str]) -> list[str]:
    """The arguments that changed the figures: not --write-docs, nor where the data was read from."""
    shown, skip = [], False
    for arg in argv:
        if not skip and arg not in ("--write-docs", "--data") and not arg.startswith("--data="):
            shown.append(arg)
        skip = arg == "--data"
    return shown


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--subsample", type=int, default=None, help="at most this many rows per dataset")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--ablation", action="store_true", help="also replay asahi@0.02 with each veto")
    parser.add_argument("--write-docs", action="store_true", help="put the table into docs/semantic-cache.md")
    parser.add_argument("--cache-dir", type=Path, default=OUT / "embeddings")
    parser.add_argument("--embedders", nargs="+", choices=EMBEDDERS, default=list(EMBEDDERS),
                        help="the first is the default configuration (all δ, ablation); the others run δ = 0.02")
    args = parser.parse_args(argv)
    streams = load_streams(args.data, args.subsample, args.seed)
    if not streams:
        parser.error(f"no dataset found under {args.data}")
    minilm, static = LocalEmbedder(), StaticEmbedder()
    by_embedder: dict[str, dict[str, tuple[np.ndarray, np.ndarray | None]]] = {e: {} for e in args.embedders}
    for name, s in streams.items():
        m = embed_cached(s.texts, minilm, args.cache_dir) if {"two-stage", "minilm"} & set(args.embedders) else None
        v = static.embed_sync(s.texts) if {"two-stage", "static"} & set(args.embedders) else None
        for embedder, pair in {"two-stage": (v, m), "minilm": (m, None), "static": (v, None)}.items():
            if embedder in by_embedder and pair[0] is not None:
                by_embedder[embedder][name] = (pair[0], pair[1])
    results = asyncio.run(evaluate(streams, by_embedder, args.seed, args.ablation))
    default = results[args.embedders[0]]
    if args.json:
        print(json.dumps({"datasets": default["datasets"], "overall": default["overall"],
                          "embedders": {e: {k: r[k] for k in ("datasets", "overall", "thresholds")}
                                        for e, r in results.items()}}))
        return
    command = "python bench/semantic_eval.py " + " ".join(shown_args(argv if argv is not None else sys.argv[1:]))
    table = markdown(results, command.strip())
    print(table)
    if args.write_docs:
        write_docs(table)


if __name__ == "__main__":
    main()
