"""Resident memory of the default configuration: idle, after the first request, once MiniLM has loaded, and after
100,000 distinct misses.

`asahi serve` with no configuration from an empty data dir, in front of bench/fake_upstream.py as its OpenAI
provider. RSS (the process tree's, from /proc) is read after start-up, after the first request (a miss), after the
first tier 2 confirmation (near-identical paraphrases are sent until onnxruntime is mapped into the process, which
happens when MiniLM first runs), then after wrk sends N distinct misses at 16 connections (bench/distinct.lua:
prompts of random words, so every request is stored in tier 1 and tier 2). Tier 2 holds at most 100,000 entries per
org and tier 1 at most 256 MB of answers (defaults.yaml): the run reports how full each is.

    .venv/bin/python bench/memory.py                  # ~3-5 min on a 2-core machine
    .venv/bin/python bench/memory.py --write-docs     # and replaces "## Memory" in docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpu_breakdown import (
    CPU_HEADING,
    MEMORY_HEADING,
    Client,
    api_key,
    asahi_env,
    chat,
    cpus,
    distinct_prompts,
    machine,
    vocabulary,
    write_section,
)
from gateway_bench import BENCH, OUT, Service, free_port, pin, rss_mb, start_upstream
from tier2_hits import OPENERS, PARAPHRASES

ADMIN_SECRET = "bench-admin-secret"  # only to read /metrics (tier 2 stores skipped under load)
TIER2_BOUND = 100_000  # cache.tier2.max_entries_per_org
TIER1_BOUND_MB = 256  # cache.tier1.memory_max_bytes


def minilm_loaded(pid: int) -> bool:
    return "onnxruntime" in Path(f"/proc/{pid}/maps").read_text()


def settle(pid: int, seconds: float = 2.0) -> float:
    time.sleep(seconds)
    return rss_mb(pid)


def wrk_run(url: str, key: str, words: Path, seconds: float, conns: int,
            cpus_for_wrk: set[int] | None) -> dict[str, Any]:
    env = {**os.environ, "BENCH_KEY": key, "BENCH_WORDS": str(words), "BENCH_NONCE": str(time.time_ns())}
    argv = ["wrk", "-t2", f"-c{conns}", f"-d{seconds:.0f}s", "--timeout", "30s", "-s", str(BENCH / "distinct.lua"),
            url]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 60,
                          preexec_fn=(lambda: os.sched_setaffinity(0, cpus_for_wrk)) if cpus_for_wrk else None)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            return result
    raise RuntimeError(f"wrk gave no result ({done.returncode}): {done.stderr[-300:]}")


def distinct_misses(url: str, key: str, words: Path, total: int, conns: int, cpus_for_wrk: set[int] | None,
                    stored: Callable[[], int], rss: Callable[[], float]) -> dict[str, Any]:
    """wrk runs for a time, not a count: runs of up to a minute, each sized by the rate so far, until `total`
    requests are done and tier 2 holds its bound (stores skipped under load make it lag the misses), or 1.5x
    `total`. Returns the sums, the overall rate, the worst run's p99, and the RSS and tier 2 rows once `total`
    requests were done."""
    runs: list[dict[str, Any]] = []
    at_total: dict[str, Any] = {}
    # Evictions delete rows as entries come in, so "at its bound" is within 1% of it.
    while (done := sum(r["requests"] for r in runs)) < total or (stored() < 0.99 * TIER2_BOUND
                                                                  and done < 1.5 * total):
        rate = done / sum(r["seconds"] for r in runs) if runs else 0.0
        wanted = total - done if done < total else TIER2_BOUND - stored()
        seconds = 20.0 if not rate else min(max(wanted / rate, 5.0), 60.0)
        runs.append(wrk_run(url, key, words, seconds, conns, cpus_for_wrk))
        print(f"misses: {sum(r['requests'] for r in runs):,} of {total:,}", file=sys.stderr)
        if not at_total and sum(r["requests"] for r in runs) >= total:
            at_total = {"requests": sum(r["requests"] for r in runs), "rss_mb": rss(), "rows": stored(),
                        "seconds": sum(r["seconds"] for r in runs)}
    requests, seconds = sum(r["requests"] for r in runs), sum(r["seconds"] for r in runs)
    return {"requests": requests, "seconds": seconds, "rps": requests / seconds,
            "p99_ms": max(r["p99_ms"] for r in runs), "errors": sum(sum(r["errors"].values()) for r in runs),
            "at_total": at_total}


def skipped_stores(url: str) -> int:
    """Tier 2 stores skipped (or failed) so far: asahi_cache_errors_total{tier="t2"} from /metrics."""
    import urllib.request

    request = urllib.request.Request(url + "/metrics", headers={"x-admin-secret": ADMIN_SECRET})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    found = re.search(r'asahi_cache_errors_total\{tier="t2"\} ([0-9.e+]+)', text)
    return int(float(found.group(1))) if found else 0


def tier2_rows(data_dir: Path) -> int:
    """Tier 2's entries as persisted (evictions delete their rows, so this follows the index's size)."""
    with sqlite3.connect(data_dir / "asahi.db", timeout=30) as db:
        count: int = db.execute("SELECT count(*) FROM semantic_entries").fetchone()[0]
        return count


def tier1_value_bytes() -> int:
    """The size tier 1 counts against its bound for one of the fake upstream's answers."""
    import orjson

    from asahi.cache import codec
    from asahi.providers.openai.upstream import result_from_wire
    from fake_upstream import Upstream

    result = result_from_wire(orjson.loads(Upstream(0)._completion("gpt-4o-mini")), "openai")
    return len(codec.encode(codec.CachedAnswer(result)))


def run_memory(asahi: str, misses: int, conns: int, command: str) -> str:
    pinned = cpus()
    OUT.mkdir(exist_ok=True)
    words = OUT / "words.txt"
    words.write_text("\n".join(vocabulary()) + "\n")
    figures: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="asahi-memory-") as tmp:
        upstream = start_upstream(0)
        try:
            data_dir = Path(tmp)
            env = {**asahi_env(upstream, data_dir), "ASAHI_ADMIN_SECRET": ADMIN_SECRET}
            key = api_key(asahi, env)
            port = free_port()
            server = Service("asahi-memory", [asahi, "serve", "--host", "127.0.0.1", "--port", str(port)], env,
                             port).start()
            server.wait_ready("/v1/models", 120)
            try:
                if pinned:
                    pin(server.pid, pinned[0])
                    pin(upstream.pid, pinned[1])
                figures.append(("idle, after start-up", settle(server.pid)))
                client = Client(port, key)
                client.send(chat(distinct_prompts(vocabulary(), 1)(0)))
                figures.append(("after the first request (a miss)", settle(server.pid)))
                asked = 0
                for opener in OPENERS:
                    for question in PARAPHRASES:
                        if minilm_loaded(server.pid):
                            break
                        client.send(chat(opener + question))
                        asked += 1
                client.close()
                loaded = minilm_loaded(server.pid)
                figures.append((f"after the first tier 2 confirmation ({asked} paraphrases asked; MiniLM "
                                f"{'loaded' if loaded else 'NOT loaded'})", settle(server.pid)))
                if pinned:
                    pin(server.pid, pinned[0])  # threads started since (the model's) stay on the server's CPU
                result = distinct_misses(server.url, key, words, misses, conns, pinned[1] if pinned else None,
                                         lambda: tier2_rows(data_dir), lambda: rss_mb(server.pid))
                after = settle(server.pid, 5.0)
                skipped = skipped_stores(server.url)
                first = result["at_total"]
                figures.append((f"after {first['requests']:,} distinct misses at c={conns} (tier 2: "
                                f"{first['rows']:,} entries)", first["rss_mb"]))
            finally:
                server.stop()
            stored = tier2_rows(data_dir)
            figures.append((f"after {result['requests']:,} distinct misses (tier 2: {stored:,} entries)", after))
        finally:
            upstream.stop()
    value = tier1_value_bytes()
    lines = [MEMORY_HEADING, "", f"Command: `{command}`", "",
             "Resident memory (RSS, the process tree's, from /proc) of `asahi serve` with no configuration, from an "
             "empty data dir, in front of the fake upstream as its OpenAI provider. The first tier 2 confirmation "
             "is the first request whose static-table candidate comes close enough for MiniLM to confirm it: "
             "that loads onnxruntime and the model. The misses are prompts of random words sent by wrk "
             "(bench/distinct.lua), each stored in tier 1 and in tier 2.", "",
             f"Measured {machine()}; server pinned to one CPU, wrk and the fake upstream to the other.", "",
             "| state | RSS MB |", "|---|---|"]
    lines += [f"| {state} | {mb:,.1f} |" for state, mb in figures]
    lines += ["", "The run goes on past the asked number of misses until tier 2 is within 1% of its bound, or "
              "for half as many again, since under this load tier 2 skips stores (it keeps at most 1,000 in "
              "flight). "
              f"The first {first['requests']:,} misses took {first['seconds']:.0f} s: "
              f"**{first['requests'] / first['seconds']:,.0f} req/s** at c={conns}; the whole run "
              f"{result['requests']:,} requests in {result['seconds']:.0f} s (p99 of the worst wrk run "
              f"{result['p99_ms']:.1f} ms, {result['errors']} errors). "
              f"Tier 2 then held {stored:,} rows in the database (bound: {TIER2_BOUND:,} entries per org; "
              f"{skipped:,} stores skipped). Tier 1 holds every answer, "
              f"{value:,} bytes each as it counts them: {result['requests'] * value / 2**20:,.0f} MB of its "
              f"{TIER1_BOUND_MB} MB bound, which answers this size would reach after "
              f"~{TIER1_BOUND_MB * 2**20 // value:,} misses.", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--misses", type=int, default=100_000)
    parser.add_argument("--conns", type=int, default=16)
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--asahi-bin", default=str(Path(sys.executable).with_name("asahi")))
    args = parser.parse_args()
    command = " ".join([".venv/bin/python", "bench/memory.py", *sys.argv[1:]])
    section = run_memory(args.asahi_bin, args.misses, args.conns, command)
    print(section)
    if args.write_docs:
        write_section(MEMORY_HEADING, section, CPU_HEADING)
    return 0


if __name__ == "__main__":
    sys.exit(main())
