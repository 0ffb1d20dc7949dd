"""Tier 2 hits through the gateway: requests/s and latency when every request is a semantic (not exact) hit.

One Asahi process on embedded defaults in front of the fake upstream. The fake answers every question the same,
so the verification labels Asahi collects while priming say "same answer" and its policy learns to serve; then
wrk sends one fixed question that was never asked word for word (a tier 1 miss each time) but means the same as
the primed ones, so each request is embedded, searched and served from tier 2.

Run: `.venv/bin/python bench/tier2_hits.py` (loopback only; each wrk run is bounded in time).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_bench import Service, asahi_target, http_json, start_upstream, upstream_calls, wrk

PARAPHRASES = [
    "What's the capital of France? Answer in one word.",
    "Which city is the capital of France? Answer in one word.",
    "Name the capital of France. Answer in one word.",
    "What city is France's capital? Answer in one word.",
    "Tell me the capital of France. Answer in one word.",
    "France's capital city is what? Answer in one word.",
]
OPENERS = ["", "Quick question: ", "Please tell me: ", "Hi! ", "I wonder, ", "Hey, "]


def chat(question: str) -> dict[str, object]:
    return {"model": "gpt-4o-mini", "max_tokens": 32, "messages": [
        {"role": "system", "content": "You are a terse assistant."}, {"role": "user", "content": question}]}


PROBE = "What is the capital of France? Answer in one word."  # the question wrk sends in "hit" mode
SUFFIXES = ["", " Thanks.", " Cheers.", " Please.", " Thank you!"]
NO_STORE = "x-asahi-cache: no-store"  # so the probe never lands in tier 1 and every request tests tier 2


def ask(service: Service, key: str, question: str, no_store: bool = False) -> str:
    headers = {"Authorization": f"Bearer {key}", **({"x-asahi-cache": "no-store"} if no_store else {})}
    _, response_headers, _ = http_json("POST", service.url + "/v1/chat/completions", chat(question), headers)
    return {k.lower(): v for k, v in response_headers.items()}.get("x-asahi-cache", "")


def prime(service: Service, key: str) -> str:
    """Ask distinct paraphrases (their verified answers agree) until the probe is served from tier 2."""
    status = "miss"
    for suffix in SUFFIXES:
        for opener in OPENERS:
            for question in PARAPHRASES:
                ask(service, key, opener + question.replace(".", "." + suffix, 1))
        status = ask(service, key, PROBE, no_store=True)
        if status.startswith("t2"):
            break
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--conns", type=int, nargs="+", default=[1, 16, 64])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="asahi-t2-bench-") as tmp:
        upstream = start_upstream(0)
        try:
            target = asahi_target("asahi", str(Path(sys.executable).with_name("asahi")), upstream, Path(tmp), None,
                                  "", ("hit",))
            try:
                print(f"after priming: x-asahi-cache {prime(target.service, target.key)}")
                for conns in args.conns:
                    before = upstream_calls(upstream)
                    result = wrk(target.service.url, target.key, "hit", False, conns, args.duration, NO_STORE, None)
                    share = (upstream_calls(upstream) - before) / max(result["requests"], 1)
                    print(f"tier 2 hits c={conns}: {result['rps']:.0f} req/s, p50 {result['p50_ms']:.2f} ms, "
                          f"p99 {result['p99_ms']:.2f} ms, share sent upstream (verification) {share:.3f}")
            finally:
                target.service.stop()
        finally:
            upstream.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
