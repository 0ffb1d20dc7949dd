"""How long a routing decision takes beyond the embedding the semantic cache already made.

    python bench/routing_speed.py [--n 5000]

Routes AUTOPILOT requests over the shipped catalog and learned model with precomputed embeddings, then times
the org's online checks the request path adds (`OnlineRouting.advise`, `shadow_probability` and a cascade
check) for an org holding the most labels it can keep, and writes p50/p99 of each and of the sum into the
"Routing" section of docs/benchmarks.md (other sections are left as they are).
"""

from __future__ import annotations

import argparse
import platform
import re
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from asahi.config import load_config
from asahi.domain import ChatRequest, Message, TextPart
from asahi.embeddings.local import LocalEmbedder
from asahi.governance.policy import OrgPolicy
from asahi.routing.catalog import Catalog
from asahi.routing.hints import AUTO_MODEL
from asahi.routing.learned import LearnedRouter
from asahi.routing.online import cascade, evidence
from asahi.routing.online.calibration import Saving
from asahi.routing.online.service import OnlineRouting
from asahi.routing.router import Router

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = [
    "What is the capital of Australia?",
    "Write a Python function that merges two sorted lists without using sort().\n```python\ndef merge(a, b):\n```",
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
    "How many clips did Natalia sell altogether in April and May?",
    "Summarise the following meeting notes for the leadership team:\n" + "We discussed the roadmap. " * 200,
]


def write_section(path: Path, body: str) -> None:
    """Replace the "## Routing" section (up to the next "## " heading) or append it."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    section = f"## Routing\n\n{body.strip()}\n"
    match = re.search(r"^## Routing\n.*?(?=^## |\Z)", text, flags=re.M | re.S)
    if match:
        text = text[: match.start()] + section + ("\n" if match.end() < len(text) else "") + text[match.end() :]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


def full_org(online: OnlineRouting, learned: LearnedRouter, vectors: np.ndarray, prompts: list[str]) -> None:
    """Fill one org with as many labels (near the benchmark's prompts) and cascade records as it keeps."""
    rng = np.random.default_rng(0)
    for i in range(evidence.MAX_LABELS):
        base = vectors[i % len(vectors)]
        vector = base + rng.normal(0, 0.3 / np.sqrt(len(base)), len(base)).astype(np.float32)
        vector /= np.linalg.norm(vector)
        assessment = learned.assess(vector, prompts[i % len(prompts)])
        online.record("org", assessment, vector, float(rng.random() < 0.1), saving=Saving(50.0, 1.0))
    for _ in range(cascade.MAX_LABELS):
        online.cascade_record("org", 2, float(rng.random()), float(rng.random() < 0.1))
    for _ in range(cascade.MAX_TRAFFIC):
        online.cascade_check("org", 2, float(rng.random()), 0.95)


def percentiles(timings: list[int]) -> tuple[float, float]:
    ms = np.array(timings) / 1e6
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="decisions to time")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)

    learned = LearnedRouter.load()
    router = Router(Catalog.from_config(load_config()), learned)
    policy = OrgPolicy()
    vectors = LocalEmbedder().embed_sync(PROMPTS)  # made once, as the semantic cache would; not timed
    cases = [
        (ChatRequest(model=AUTO_MODEL, messages=[Message("user", [TextPart(prompt)])]), vector)
        for prompt, vector in zip(PROMPTS, vectors, strict=True)
    ]
    for request, vector in cases * 50:  # warm up
        router.route(request, policy, embedding=vector)
    online = OnlineRouting(learned)
    full_org(online, learned, vectors, PROMPTS)
    assessments = [learned.assess(vector, prompt) for prompt, vector in zip(PROMPTS, vectors, strict=True)]

    def online_checks(i: int) -> None:
        assessment, vector = assessments[i % len(cases)], cases[i % len(cases)][1]
        online.advise("org", assessment, vector, 0.95)
        online.shadow_probability("org", assessment.family, 0.95, relative_cost=0.06)
        online.cascade_check("org", 2, 0.3, 0.95)

    for i in range(len(cases) * 50):  # warm up
        online_checks(i)
    routing, checks, both = [], [], []
    for i in range(args.n):
        request, vector = cases[i % len(cases)]
        start = time.perf_counter_ns()
        router.route(request, policy, embedding=vector)
        middle = time.perf_counter_ns()
        online_checks(i)
        end = time.perf_counter_ns()
        routing.append(middle - start)
        checks.append(end - middle)
        both.append(end - start)
    (p50, p99), (c50, c99), (t50, t99) = percentiles(routing), percentiles(checks), percentiles(both)
    command = "python bench/routing_speed.py" + "".join(f" {shlex.quote(a)}" for a in (argv or sys.argv[1:]))
    body = f"""
A routing decision (AUTOPILOT over the default catalog of {len(router.served())} models, learned router included),
given the prompt embedding the semantic cache already computed: **p50 {p50:.3f} ms, p99 {p99:.3f} ms** over
{args.n} decisions on prompts from one line to ~5,000 characters (Python {platform.python_version()}, one core,
other work running on the machine). The learned router compares the embedding with its stored training
prompts (one matrix-vector product), which is most of that time. The org's online checks the request path adds
(docs/routing.md, "Online calibration"), for an org holding the most labels it keeps ({evidence.MAX_LABELS}
routing labels, {cascade.MAX_LABELS} cascade labels, {cascade.MAX_TRAFFIC} cascade scores): `advise` (the org's
loss estimate, λ and coverage: one product over its labels), `shadow_probability` and a cascade check take
**p50 {c50:.3f} ms, p99 {c99:.3f} ms**; decision and checks together **p50 {t50:.3f} ms, p99 {t99:.3f} ms**.
Goal: ≤ 1 ms p50 beyond the embedding.

Command: `{command}`
"""
    write_section(args.doc, body)
    print(f"routing decision: p50 {p50:.3f} ms, p99 {p99:.3f} ms over {args.n}")
    print(f"online checks: p50 {c50:.3f} ms, p99 {c99:.3f} ms; together p50 {t50:.3f} ms, p99 {t99:.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
