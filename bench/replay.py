"""Savings on real traffic, end to end: real conversations replayed through `asahi serve`, read back from the ledger.

Two workloads from ../shared/data (read by path, never shipped):
- `sharegpt`: ShareGPT conversations, each user turn sent with its real earlier turns and the gateway's own earlier
  answers as context, as a chat client does; `--concurrency` conversations at once, each in order.
- `arena`: Arena-hard prompts, each a single turn, `--concurrency` at once.

Each variant starts its own `asahi serve` on a free loopback port with a throwaway ASAHI_DATA_DIR (embedded
defaults: SQLite, in-process caches, the local embedder, the simulator), creates one key, replays, then reads the
saving from the ledger: GET /analytics/usage (what the dashboard shows, by cause as the ledger attributes it) and
the ledger rows in the database, from which the saving is also split exactly by cause: on a routed answer that
also read the provider's prompt cache, `tier3` is the part the ledger books as the prompt cache's
(`prompt_cache_saved_usd`) and `routing` the rest, so the causes add up to the net saving (an Anthropic cache
write that costs more than it saves counts against tier 3). A tier 2 answer that was verified against the
provider was paid for as a miss, so every figure is net of verification calls.

Variant settings: the model (an explicit one, the baseline, or `asahi/auto`), tiers 1 and 2 on or off
(`x-asahi-cache: no-cache, no-store`), tier 3 on or off, and the simulator's provider prompt-cache model on or
off (`simulator.prompt_caching`). `--tier3 off` sets `cache.tier3.enabled: false`.

    .venv/bin/python bench/replay.py --workload sharegpt --conversations 50 --model asahi/auto
    .venv/bin/python bench/replay.py --all --write-docs      # every variant of docs/savings.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = ROOT.parent / "shared" / "data"
DOC = ROOT / "docs" / "savings.md"
OUT = BENCH / ".out"
CAUSES = ("tier1", "tier2", "tier3", "routing")


@dataclass(frozen=True)
class Variant:
    name: str
    model: str
    caches: bool = True  # tiers 1 and 2
    tier3: bool = True
    prompt_caching: bool = True  # the simulator's model of the provider's prompt cache
    output_tokens: int | None = None  # the simulator's answer length; None: --output-tokens


@dataclass
class Report:
    variant: Variant
    workload: str
    requests: int
    conversations: int
    errors: dict[str, int]
    seconds: float
    spend: float
    baseline: float
    ledger_by_cause: dict[str, float]  # saved USD as the ledger attributes it (GET /analytics/usage)
    net_by_cause: dict[str, float]  # the net saving split exactly by cause (see the module docstring)
    answered_by_tier: dict[str, int]
    routed_share: dict[str, float]  # share of upstream answers per model
    input_tokens: int
    cached_input_tokens: int
    overhead_ms: dict[str, float]
    incomplete_rows: int
    routing_quality: list[dict[str, Any]] = field(default_factory=list)  # GET /analytics/routing's families
    notes: list[str] = field(default_factory=list)

    @property
    def saved(self) -> float:
        return self.baseline - self.spend

    @property
    def saved_share(self) -> float:
        return self.saved / self.baseline if self.baseline else 0.0


# --- workloads --------------------------------------------------------------------------------------------

def sharegpt_conversations(data: Path, count: int, seed: int, max_turns: int | None) -> list[list[str]]:
    """`count` conversations picked at random (seeded), each its user turns in order."""
    turns: dict[str, list[tuple[int, str]]] = defaultdict(list)
    with (data / "sharegpt_prompts" / "dev.jsonl").open() as rows:
        for line in rows:
            row = json.loads(line)
            if row["text"].strip():
                turns[row["conversation_id"]].append((int(row["turn"]), row["text"]))
    ids = sorted(turns)
    chosen = random.Random(seed).sample(ids, min(count, len(ids)))
    return [[text for _, text in sorted(turns[c])][:max_turns] for c in chosen]


def arena_prompts(data: Path, count: int | None) -> list[list[str]]:
    with (data / "arena_hard_prompts" / "dev.jsonl").open() as rows:
        prompts = [json.loads(line)["prompt"] for line in rows]
    return [[p] for p in prompts[:count]]


# --- the server -------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def write_config(folder: Path, variant: Variant, output_tokens: int) -> Path:
    """The overlay on the packaged defaults for `variant`: tier 3 and the simulator's settings."""
    overlay = {"simulator": {"prompt_caching": variant.prompt_caching,
                             "output_tokens": variant.output_tokens or output_tokens},
               "cache": {"tier3": {"enabled": variant.tier3}}}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(overlay))
    return path


@contextmanager
def gateway(variant: Variant, output_tokens: int) -> Iterator[tuple[str, str, Path]]:
    """(base URL, API key, database file) of a fresh `asahi serve` for `variant`; stopped on exit."""
    folder = Path(tempfile.mkdtemp(prefix="asahi-replay-"))
    asahi = str(Path(sys.executable).with_name("asahi"))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(folder), "ASAHI_DATA_DIR": str(folder / "data"),
           "ASAHI_LOG_LEVEL": "WARNING", "ASAHI_CONFIG": str(write_config(folder, variant, output_tokens))}
    server = None
    try:
        created = subprocess.run([asahi, "keys", "create", "--org-name", "replay", "--scopes", "infer,analytics"],
                                 env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
        lines = [line.strip() for line in created.stdout.splitlines() if line.strip()]
        if created.returncode != 0 or not lines:
            raise RuntimeError(f"`asahi keys create` failed ({created.returncode}): {created.stderr[-400:]}")
        port = free_port()
        OUT.mkdir(exist_ok=True)
        with (OUT / "replay-server.log").open("wb") as log:
            server = subprocess.Popen([asahi, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                                      cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        wait_ready(server, url)
        yield url, lines[-1], folder / "data" / "asahi.db"
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        shutil.rmtree(folder, ignore_errors=True)


def wait_ready(server: subprocess.Popen[bytes], url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"asahi serve exited with {server.returncode}; see {OUT / 'replay-server.log'}")
        try:
            httpx.get(url + "/health", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.25)
    raise RuntimeError(f"asahi serve did not answer within {timeout:.0f} s")


# --- the replay -------------------------------------------------------------------------------------------

async def replay(url: str, key: str, variant: Variant, conversations: list[list[str]], concurrency: int,
                 errors: Counter[str]) -> int:
    """Send every conversation, each turn with its history and the gateway's answers; return requests sent."""
    headers = {"Authorization": f"Bearer {key}"}
    if not variant.caches:
        headers["x-asahi-cache"] = "no-cache, no-store"
    gate = asyncio.Semaphore(concurrency)
    sent = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=300, limits=limits) as client:

        async def converse(turns: list[str]) -> None:
            nonlocal sent
            history: list[dict[str, str]] = []
            async with gate:
                for text in turns:
                    history.append({"role": "user", "content": text})
                    response = await client.post("/v1/chat/completions",
                                                 json={"model": variant.model, "messages": history})
                    sent += 1
                    if response.status_code != 200:
                        # A conversation that outgrew the model's context ends there, as it would for a user.
                        errors[str(response.json().get("error", {}).get("code") or response.status_code)] += 1
                        return
                    history.append({"role": "assistant",
                                    "content": response.json()["choices"][0]["message"]["content"] or ""})

        await asyncio.gather(*(converse(turns) for turns in conversations))
    return sent


def run(variant: Variant, workload: str, conversations: list[list[str]], concurrency: int,
        output_tokens: int) -> Report:
    errors: Counter[str] = Counter()
    with gateway(variant, output_tokens) as (url, key, database):
        started = time.perf_counter()
        sent = asyncio.run(replay(url, key, variant, conversations, concurrency, errors))
        seconds = time.perf_counter() - started
        time.sleep(1.5)  # the ledger writes in batches off the request path
        auth = {"Authorization": f"Bearer {key}"}
        usage = httpx.get(url + "/analytics/usage", params={"days": 1}, headers=auth, timeout=60).json()
        quality = httpx.get(url + "/analytics/routing", headers=auth, timeout=60).json()["families"]
        rows = ledger_rows(database)
    report = summarise(variant, workload, sent, len(conversations), dict(errors), seconds, usage, rows)
    report.routing_quality = quality if variant.model == AUTO else []
    return report


def ledger_rows(database: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(database) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(r) for r in connection.execute("SELECT * FROM usage_records WHERE status = 200")]


def split_by_cause(rows: list[dict[str, Any]]) -> dict[str, float]:
    """The net saving (baseline minus cost, summed) split by cause from the ledger's own columns: an answer from
    Asahi's cache saved all its baseline; a provider answer saved `prompt_cache_saved_usd` by the provider's
    prompt cache (tier 3, negative for a write not yet read) and the rest of `saved_usd` by routing."""
    split = dict.fromkeys(CAUSES, 0.0)
    for row in rows:
        saved = row["saved_usd"] or 0.0
        if row["cache_tier"] in (1, 2):
            split[f"tier{row['cache_tier']}"] += saved
            continue
        prompt_cache = row["prompt_cache_saved_usd"] or 0.0
        split["tier3"] += prompt_cache
        split["routing"] += saved - prompt_cache
    return split


def summarise(variant: Variant, workload: str, sent: int, conversations: int, errors: dict[str, int],
              seconds: float, usage: dict[str, Any], rows: list[dict[str, Any]]) -> Report:
    tiers = Counter({0: "upstream", 1: "tier1", 2: "tier2"}[r["cache_tier"]] for r in rows)
    upstream = [r for r in rows if r["cache_tier"] == 0]
    routed = Counter(r["model_used"] for r in upstream)
    overheads = sorted(r["overhead_ms"] for r in rows)
    total = usage["total"]
    return Report(
        variant=variant, workload=workload, requests=sent, conversations=conversations, errors=errors,
        seconds=seconds, spend=total["cost_usd"], baseline=total["baseline_cost_usd"],
        ledger_by_cause={cause: figures["saved_usd"] for cause, figures in usage["by_cause"].items()},
        net_by_cause=split_by_cause(rows), answered_by_tier=dict(tiers),
        routed_share={m: n / len(upstream) for m, n in routed.most_common()} if upstream else {},
        input_tokens=sum(r["input_tokens"] for r in rows),
        cached_input_tokens=sum(r["cached_input_tokens"] for r in rows),
        overhead_ms={"p50": percentile(overheads, 0.50), "p95": percentile(overheads, 0.95),
                     "mean": statistics.fmean(overheads) if overheads else 0.0},
        incomplete_rows=int(total.get("rows_with_unknown_price", 0)),
    )


def percentile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


# --- output -----------------------------------------------------------------------------------------------

def usd(value: float) -> str:
    return f"${value:,.2f}" if abs(value) >= 1 else f"${value:,.4f}"


def pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def settings(variant: Variant) -> str:
    answers = f", {variant.output_tokens}-token answers" if variant.output_tokens else ""
    return (f"`{variant.model}`, tiers 1+2 {'on' if variant.caches else 'off'}, tier 3 "
            f"{'on' if variant.tier3 else 'off'}, provider prompt caching {'on' if variant.prompt_caching else 'off'}"
            f"{answers}")


def table(reports: list[Report]) -> str:
    head = ("| variant | requests | spend | baseline | saved | tier 1 | tier 2 | tier 3 | routing* | quality kept* "
            "| cached input | overhead p50 / p95 |\n|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in reports:
        cause = r.net_by_cause
        lines.append(
            f"| {r.variant.name} | {r.requests} | {usd(r.spend)} | {usd(r.baseline)} | {usd(r.saved)} "
            f"({pct(r.saved, r.baseline)}) | {pct(cause['tier1'], r.baseline)} | {pct(cause['tier2'], r.baseline)} "
            f"| {pct(cause['tier3'], r.baseline)} | {pct(cause['routing'], r.baseline)} | {kept(r)} "
            f"| {pct(r.cached_input_tokens, r.input_tokens)} | {r.overhead_ms['p50']:.1f} / "
            f"{r.overhead_ms['p95']:.1f} ms |")
    return "\n".join(lines)


def families(r: Report) -> str:
    return ", ".join(
        f"{f['family']} {f['labels']} labels, " + ("cheap allowed" if f["routing_open"] else "strong only")
        + ("" if f["quality_kept"] is None else f", kept {100 * f['quality_kept']:.1f}%")
        for f in r.routing_quality
    )


def kept(r: Report) -> str:
    """Per family routing saw: the quality kept with its lower bound, or that it has no labels yet; – unrouted."""
    if not r.routing_quality:
        return "–"
    return "; ".join(
        f"{f['family']} no labels" if f["quality_kept"] is None
        else f"{f['family']} {100 * f['quality_kept']:.1f}% (≥ {100 * f['quality_kept_lower_bound']:.1f}%)"
        for f in r.routing_quality
    )


def details(reports: list[Report]) -> str:
    lines = []
    for r in reports:
        routed = ", ".join(f"{m} {100 * s:.1f}%" for m, s in r.routed_share.items())
        ledger = ", ".join(f"{c} {usd(v)}" for c, v in sorted(r.ledger_by_cause.items()) if c != "none") or "none"
        errors = ", ".join(f"{n} × {code}" for code, n in r.errors.items()) or "none"
        lines.append(f"- **{r.variant.name}** ({settings(r.variant)}): upstream answers by model: {routed}; "
                     f"answered by tier: {dict(sorted(r.answered_by_tier.items()))}; the ledger's own attribution "
                     f"(whole rows): {ledger}; requests refused: {errors}; "
                     + (f"routing's own measure per family: {families(r)}; " if r.routing_quality else "")
                     + f"replay took {r.seconds:.0f} s.")
    return "\n".join(lines)


def print_report(r: Report) -> None:
    print(f"{r.workload} / {r.variant.name}: {settings(r.variant)}")
    print(f"  {r.requests} requests ({r.conversations} conversations) in {r.seconds:.1f} s; refused: {r.errors}")
    print(f"  spend {usd(r.spend)}  baseline {usd(r.baseline)}  saved {usd(r.saved)} ({pct(r.saved, r.baseline)})")
    print("  net saving by cause: " + ", ".join(f"{c} {usd(v)} ({pct(v, r.baseline)})"
                                                  for c, v in r.net_by_cause.items()))
    print(f"  ledger by cause: {r.ledger_by_cause}")
    print(f"  answered by: {r.answered_by_tier}; routed: {r.routed_share}")
    print(f"  cached input tokens {pct(r.cached_input_tokens, r.input_tokens)}; overhead {r.overhead_ms}")


# --- the variants of docs/savings.md ----------------------------------------------------------------------

GPT, CLAUDE, AUTO = "asahi-sim-gpt-4o", "asahi-sim-claude-sonnet-4-5", "asahi/auto"
DOC_VARIANTS = [
    Variant("gpt-4o, prompt caching off", GPT, prompt_caching=False),
    Variant("gpt-4o", GPT),
    Variant("gpt-4o, tier 3 off", GPT, tier3=False),
    Variant("claude-sonnet-4-5, tier 3 off", CLAUDE, tier3=False),
    Variant("claude-sonnet-4-5", CLAUDE),
    Variant("asahi/auto, prompt caching off", AUTO, prompt_caching=False),
    Variant("asahi/auto", AUTO),
    Variant("gpt-4o, 300-token answers", GPT, output_tokens=300),
    Variant("asahi/auto, 300-token answers", AUTO, output_tokens=300),
]


def write_docs(key: str, title: str, command: str, setup: str, body: str) -> None:
    """Put one section into docs/savings.md, replacing the earlier run of the same section and no other."""
    start, end = f"<!-- replay:{key} -->", f"<!-- /replay:{key} -->"
    section = f"{start}\n## {title}\n\n    {command}\n\n{setup}\n\n{body}\n{end}"
    text = DOC.read_text() if DOC.exists() else DOC_HEAD + "\n" + DOC_TAIL
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + section + rest.split(end, 1)[1]
    else:
        before, tail = text.split(TAIL_HEADING, 1)
        text = before + section + "\n\n" + TAIL_HEADING + tail
    DOC.write_text(text)


WORKLOAD_TITLES = {
    "sharegpt": "ShareGPT conversations (each turn with its real context)",
    "arena": "Arena-hard prompts (single turns)",
}
TAIL_HEADING = "## Reading these figures"
DOC_HEAD = """# Savings on real traffic

What Asahi saves on traffic like a chat product's, measured end to end: real conversations replayed through
`asahi serve` on the built-in simulator, whose models are priced as the models they stand in for and whose
provider prompt caching is billed as OpenAI and Anthropic bill it (see the README's simulator section), then read
back from the ledger. Each section below gives the command that produced it.

Columns: spend and baseline are the ledger's sums (baseline: the same requests on the baseline model with no
Asahi and no provider prompt cache); saved is baseline minus spend, as a share of the baseline; the cause
columns split that net saving exactly (bench/replay.py says how), as shares of the baseline; cached input is the
share of input tokens the provider reported as read from its prompt cache; overhead is the ledger's
`overhead_ms` (time in the gateway outside the provider call), p50 / p95, on a shared 2-core machine that also
runs the client: with several conversations at once it is mostly waiting for a CPU, so the section measured
one request at a time is the one to read for the gateway's own cost.
"""
DOC_TAIL = TAIL_HEADING + r"""

- (\*) Routing keeps each org's quality floor by checking itself online (docs/routing.md): a new org is answered
  by the strong model until its own sampled requests, each also answered by the cheap model and compared, show
  where the cheap one is good enough. The routing column is net of those extra calls (`routing_verification`
  in the ledger). "Quality kept" is routing's own measure from those labels (GET /analytics/routing), per
  prompt family: the share of the strong model's quality kept at the threshold in force, with the lower
  confidence bound the floor (95%) applies to. It covers what goes to the cheap tier; a model the catalog rates
  as good as the baseline (here claude-haiku-4-5 for gpt-4o) is taken without labels. On the simulator the
  answers compared, and the judge's verdicts (it calls its own answers even), are the simulator's, so this
  shows the mechanism at work, not how a real cheap model compares with a real strong one: docs/routing.md
  measures that on labelled sets.
- Tier 3 is counted only from cached tokens the (simulated) provider reported, priced at its cache-read and
  cache-write rates; "prompt caching off" is the simulator without its provider prompt-cache model. The
  simulated caches leave out OpenAI's overflow past about 15 requests a minute per prefix and eviction under
  load, so a real bill may show somewhat less.
- On an OpenAI model the provider caches by itself, with or without Asahi: the bill is lower (the cached input
  column) but none of it is Asahi's saving, so those rows' baseline is billed with the same cached tokens and
  shows no tier 3 saving, tier 3 on or off. On an Anthropic model nothing is cached unless the request marks
  it, so there tier 3's breakpoints are the whole saving, net of the 25% premium the first call of each prefix
  pays. Routed rows follow the same rule per answer, so their baseline sits between the two.
- The ledger's own attribution (in each row's notes, from GET /analytics/usage) books a whole row under one
  cause: a routed answer that also read the prompt cache counts as routing. The cause columns split each row by
  the ledger's own tier 3 part (`prompt_cache_saved_usd`), so they add up to the net saving.
- Answers are the simulator's: 48 tokens unless a row says 300. Their length sets how long the context each turn
  resends is and how much of the bill is output, which no prompt cache touches.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--workload", choices=("sharegpt", "arena"), default="sharegpt")
    parser.add_argument("--conversations", type=int, default=200, help="ShareGPT conversations (seeded sample)")
    parser.add_argument("--prompts", type=int, default=None, help="Arena-hard prompts (default: all 500)")
    parser.add_argument("--max-turns", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--output-tokens", type=int, default=48, help="the simulator's answer length")
    parser.add_argument("--model", default=AUTO)
    parser.add_argument("--caches", choices=("on", "off"), default="on")
    parser.add_argument("--tier3", choices=("on", "off"), default="on")
    parser.add_argument("--prompt-caching", choices=("on", "off"), default="on")
    parser.add_argument("--all", action="store_true", help="every variant of docs/savings.md, both workloads")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the reports as JSON")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the server on the way out

    def workload(name: str) -> list[list[str]]:
        if name == "arena":
            return arena_prompts(args.data, args.prompts)
        return sharegpt_conversations(args.data, args.conversations, args.seed, args.max_turns)

    if args.all:
        plan = [(name, v) for name in ("sharegpt", "arena") for v in DOC_VARIANTS]
    else:
        flags = [f"{name} off" for name, on in (("tiers 1+2", args.caches == "on"), ("tier 3", args.tier3 == "on"),
                                                ("prompt caching", args.prompt_caching == "on")) if not on]
        plan = [(args.workload, Variant(", ".join([args.model.removeprefix("asahi-sim-"), *flags]), args.model,
                                        args.caches == "on", args.tier3 == "on", args.prompt_caching == "on"))]
    sections: dict[str, list[Report]] = defaultdict(list)
    loaded = {name: workload(name) for name in dict.fromkeys(name for name, _ in plan)}
    for name, variant in plan:
        report = run(variant, name, loaded[name], args.concurrency, args.output_tokens)
        sections[name].append(report)
        if not args.json:
            print_report(report)
    if args.json:
        print(json.dumps({name: [asdict(r) for r in reports] for name, reports in sections.items()}, indent=1))
    if args.write_docs:
        given = list(argv if argv is not None else sys.argv[1:])
        if "--data" in given:  # where the data sits on one machine says nothing about the figures
            del given[given.index("--data"): given.index("--data") + 2]
        command = "make install && .venv/bin/python " + " ".join(["bench/replay.py", *given])
        for name, reports in sections.items():
            units = loaded[name]
            size = (f"{len(units)} ShareGPT conversations ({sum(map(len, units))} user turns, sample seed "
                    f"{args.seed})" if name == "sharegpt" else f"{len(units)} Arena-hard prompts")
            units_at_once = "one at a time" if args.concurrency == 1 else (
                f"{args.concurrency} {'conversations' if name == 'sharegpt' else 'prompts'} at once")
            setup = (f"Setup: {size}; {units_at_once}; simulator answers of {args.output_tokens} tokens unless a "
                     "row says otherwise; one org; embedded defaults (SQLite, in-process caches, local embedder); "
                     "a fresh server per row.")
            key = f"{name}-c{args.concurrency}-{'all' if args.all else 'custom'}"
            title = WORKLOAD_TITLES[name] + ("" if args.all else f", {reports[0].variant.model}") + (
                "" if args.concurrency > 1 else ", one request at a time")
            write_docs(key, title, command, setup, f"{table(reports)}\n\n{details(reports)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
