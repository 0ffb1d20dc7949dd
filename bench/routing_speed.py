"""How long a routing decision takes beyond the embedding the semantic cache already made.

    python bench/routing_speed.py [--n 5000]

Routes AUTOPILOT requests over the shipped catalog and learned model with precomputed embeddings, and writes
p50/p99 into the "Routing" section of docs/benchmarks.md (other sections are left as they are).
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="decisions to time")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)

    router = Router(Catalog.from_config(load_config()), LearnedRouter.load())
    policy = OrgPolicy()
    vectors = LocalEmbedder().embed_sync(PROMPTS)  # made once, as the semantic cache would; not timed
    cases = [
        (ChatRequest(model=AUTO_MODEL, messages=[Message("user", [TextPart(prompt)])]), vector)
        for prompt, vector in zip(PROMPTS, vectors, strict=True)
    ]
    for request, vector in cases * 50:  # warm up
        router.route(request, policy, embedding=vector)
    timings = []
    for i in range(args.n):
        request, vector = cases[i % len(cases)]
        start = time.perf_counter_ns()
        router.route(request, policy, embedding=vector)
        timings.append(time.perf_counter_ns() - start)
    ms = np.array(timings) / 1e6
    p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
    command = "python bench/routing_speed.py" + "".join(f" {shlex.quote(a)}" for a in (argv or sys.argv[1:]))
    body = f"""
A routing decision (AUTOPILOT over the default catalog of {len(router.served())} models, learned router included),
given the prompt embedding the semantic cache already computed: **p50 {p50:.3f} ms, p99 {p99:.3f} ms** over
{args.n} decisions on prompts from one line to ~5,000 characters (Python {platform.python_version()}, one core,
other work running on the machine). The learned router compares the embedding with its stored training
prompts (one matrix-vector product), which is most of that time. Goal: ≤ 1 ms p50 beyond the embedding.

Command: `{command}`
"""
    write_section(args.doc, body)
    print(f"routing decision: p50 {p50:.3f} ms, p99 {p99:.3f} ms over {args.n}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
