"""CPU per request, by step: where a miss, a tier 1 hit and a tier 2 hit spend the gateway's CPU.

One Asahi process on its defaults (tier 2 on, empty data dir) in front of bench/fake_upstream.py as its OpenAI
provider, as in bench/gateway_bench.py. The server runs under yappi (CPU clock, every thread) behind a small
switch that starts and stops the profiler on request; this script, another process, sends the requests one at a
time over a keep-alive connection. Per scenario:

1. warm-up requests, then N requests without the profiler: CPU per request from /proc (all threads);
2. N more requests with the profiler on: CPU per request from /proc again (the profiler's own cost included),
   and each step's inclusive CPU time from the profile, per request.

A step is the inclusive time of the functions that implement it (`STEPS` names them), minus the named steps
nested inside it; time in worker threads (the MiniLM model, vector search, spool fsyncs) is counted in the step
that sent it there. The database thread (aiosqlite) is read from /proc per thread. "Asahi glue" is the rest of the
inference handler's own code; "framework and other" is everything else the process spent (uvicorn's protocol,
Starlette's response, the event loop, thread hand-offs, the profiler's own bookkeeping).

Scenarios: miss (distinct prompts of random words, so tier 1 misses and tier 2 searches but finds nothing close),
tier 1 hit (one body, repeated), tier 2 hit (bench/tier2_hits.py's priming, then its probe with
`x-asahi-cache: no-store`: static embedding, search, MiniLM confirmation, decision, every time).

    .venv/bin/python bench/cpu_breakdown.py                 # ~2 min, prints the table
    .venv/bin/python bench/cpu_breakdown.py --write-docs    # and replaces its section in docs/benchmarks.md

Memory (idle RSS, and RSS after 100k distinct misses) is bench/memory.py.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gateway_bench import (
    DOC,
    MODEL,
    OUT,
    ROOT,
    Service,
    clean_env,
    free_port,
    pin,
    start_upstream,
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CPU_HEADING = "## CPU per request, by step"
MEMORY_HEADING = "## Memory"
AFTER_HEADING = "## Summary against the targets"
START, STOP = "/_bench/profile/start", "/_bench/profile/stop"
TOKENIZER = ROOT / "src" / "asahi" / "embeddings" / "minilm-tokenizer.json"

Fn = tuple[str, str]  # (the end of the function's file path, its qualified name)


# --- the profiled server (runs in its own process) --------------------------------------------------------

def process_cpu(pid: int) -> float:
    """CPU seconds so far of every thread of `pid` (scheduler statistics, in ns: finer than /proc's stat ticks)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except OSError:
            continue
    return total / 1e9


def thread_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds so far of each thread of this process (from /proc, in ns), with its Python thread name."""
    import threading

    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[int, tuple[str, float]] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            ns = int((task / "schedstat").read_text().split()[0])
        except OSError:
            continue
        tid = int(task.name)
        out[tid] = (names.get(tid, "native"), ns / 1e9)
    return out


class ProfilerSwitch:
    """The app, plus two routes that start and stop yappi; stopping answers with the profile as JSON."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app
        self._threads: dict[int, tuple[str, float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in (START, STOP):
            await self.app(scope, receive, send)
            return
        body = self._start() if scope["path"] == START else self._stop()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})

    def _start(self) -> bytes:
        import yappi

        yappi.stop()
        yappi.clear_stats()
        yappi.set_clock_type("cpu")
        yappi.set_context_backend("greenlet")
        self._threads = thread_cpu()
        yappi.start(builtins=False, profile_threads=True)
        return b"{}"

    def _stop(self) -> bytes:
        import yappi

        yappi.stop()
        now = thread_cpu()
        threads = [{"name": name, "cpu_s": seconds - self._threads.get(tid, (name, 0.0))[1]}
                   for tid, (name, seconds) in now.items()]
        functions = [{"module": s.module, "name": s.name, "ncall": s.ncall, "ttot": s.ttot,
                      "children": [{"module": c.module, "name": c.name, "ttot": c.ttot} for c in s.children]}
                     for s in yappi.get_func_stats()]
        yappi.clear_stats()
        return json.dumps({"threads": threads, "functions": functions}).encode()


def serve_profiled(port: int) -> int:
    """`asahi serve` with the profiler switch around its app (the app itself is untouched)."""
    import asahi.server
    from asahi.app import create_app
    from asahi.cli import main as asahi_main

    def create(settings: Any) -> Any:
        return ProfilerSwitch(create_app(settings))

    setattr(asahi.server, "create_app", create)  # noqa: B010  # the name `serve` looks up
    return asahi_main(["serve", "--host", "127.0.0.1", "--port", str(port)])


# --- what each step is ------------------------------------------------------------------------------------

API, OPENAI, PIPE = "asahi/api/surface.py", "asahi/providers/openai/", "asahi/pipeline.py"
LOCAL, MEMORY, TIER2 = "asahi/embeddings/local.py", "asahi/cache/vectors/memory.py", "asahi/cache/semantic/tier2.py"
MINILM_CALL: list[Fn] = [(LOCAL, "LocalEmbedder.embed")]
MINILM_FROM_PROBE = (("asahi/cache/semantic/confirm.py", "Confirmation.confirm"), MINILM_CALL[0])
MINILM_FROM_LABEL = (("asahi/cache/semantic/compare.py", "answers_agree"), MINILM_CALL[0])
MINILM_FROM_ROUTE = ((PIPE, "Pipeline._router_vector"), MINILM_CALL[0])
BUILD_BODY: list[Fn] = [(OPENAI + "adapter.py", "OpenAIProvider.to_wire"), (PIPE, "prepare")]
PARSE_ANSWER: list[Fn] = [(OPENAI + "adapter.py", "OpenAIProvider.result_from_wire")]
STATIC: list[Fn] = [("asahi/embeddings/static.py", "StaticEmbedder.embed")]
SEARCH_CALL: list[Fn] = [(MEMORY, "MemoryVectorIndex.search")]
# SQLAlchemy's async layer runs its synchronous core in greenlets: each is a root of the profile of its own.
SQL_STATEMENT: Fn = ("sqlalchemy/engine/base.py", "Connection.execute")  # tier 2's rows (Core statements)
SQL_DRIVER: Fn = ("sqlalchemy/engine/base.py", "Connection.exec_driver_sql")  # the ledger's batches


@dataclass(frozen=True)
class Step:
    name: str
    plus: list[Fn]
    minus: list[Fn] = field(default_factory=list)  # steps of their own nested inside `plus`
    minus_edges: list[tuple[Fn, Fn]] = field(default_factory=list)  # (caller, callee): the callee's time there
    threads: str | None = None  # a pattern of thread names whose whole CPU (from /proc) is this step
    roots: str | None = None  # a pattern of modules whose call-graph roots (greenlet entry points) are this step


STEPS = [
    Step("parse (read body, decode, OpenAI request, cache directive)",
         [(API, "read_json"), (OPENAI + "surface.py", "parse_request"), (API, "cache_directive")]),
    Step("auth (key, scope)", [(API, "authenticate")]),
    Step("policy and rate limit", [(PIPE, "Pipeline.admit")]),
    Step("tier 1 (key, get, put)",
         [("asahi/cache/tier1.py", "Tier1.key"), ("asahi/cache/tier1.py", "Tier1.get"),
          ("asahi/cache/tier1.py", "Tier1.put")]),
    Step("embed: static table", STATIC),
    Step("embed: MiniLM (incl. its thread)",
         [*MINILM_CALL, (LOCAL, "_Batcher._drain"), (LOCAL, "LocalEmbedder.embed_sync")]),
    Step("vector search (incl. its thread)", [*SEARCH_CALL, (MEMORY, "MemoryVectorIndex._search")]),
    Step("tier 2 decision (query, vetoes, policy)",
         [(TIER2, "Tier2.probe"), (TIER2, "Tier2.answer_for"), (TIER2, "Tier2.served")],
         minus=[*STATIC, *SEARCH_CALL], minus_edges=[MINILM_FROM_PROBE]),
    Step("tier 2 store and labels (background)",
         [(TIER2, "Tier2.after_upstream"), (TIER2, "Tier2._after_upstream"), (MEMORY, "MemoryVectorIndex._add"),
          SQL_STATEMENT],
         minus_edges=[MINILM_FROM_LABEL]),
    Step("route", [("asahi/routing/router.py", "Router.route"), ("asahi/routing/router.py", "Router.check_fits"),
                   ("asahi/routing/router.py", "Router.baseline"), (PIPE, "Pipeline._router_vector")],
         minus_edges=[MINILM_FROM_ROUTE]),
    Step("provider call: build body (incl. tier 3)", BUILD_BODY),
    Step("provider call: HTTP (aiohttp)",
         [("asahi/providers/resilience.py", "Resilience.complete"), ("aiohttp/client_proto.py", "data_received"),
          ("aiohttp/client_proto.py", "eof_received"), ("aiohttp/client_proto.py", "connection_lost")],
         minus=[*BUILD_BODY, *PARSE_ANSWER]),
    Step("provider call: parse answer", PARSE_ANSWER),
    Step("ledger and metrics (row, spool, fsync, drain)",
         [(PIPE, "Pipeline.record"), ("asahi/ledger/recorder.py", "LedgerWriter._write"),
          ("asahi/ledger/spool.py", "Reader.read"), ("asahi/ledger/spool.py", "Spool.drained"),
          ("asahi/ledger/spool.py", "Spool.take_sync_work"), ("asahi/ledger/spool.py", "sync"), SQL_DRIVER]),
    Step("database: transactions and the aiosqlite thread (ledger, tier 2 rows)", [],
         minus=[SQL_STATEMENT, SQL_DRIVER], threads=r"_connection_worker_thread", roots=r"sqlalchemy/|aiosqlite/"),
    Step("native threads (numpy's BLAS pool, woken by the exact vector scan)", [], threads=r"^native$"),
    Step("render response", [(OPENAI + "surface.py", "render_result"), (API, "json_response"),
                             ("asahi/call.py", "Outcome.headers")]),
]
# The request handler's own code outside the steps above: what is left of HotPath.__call__ once they, and the
# framework's sending of the response, are taken out.
GLUE = Step(
    "Asahi glue (handler, pipeline, billing)", [("asahi/api/hot_path.py", "HotPath.__call__")],
    minus=[(API, "read_json"), (OPENAI + "surface.py", "parse_request"), (API, "cache_directive"),
           (API, "authenticate"), (PIPE, "Pipeline.admit"), ("asahi/cache/tier1.py", "Tier1.key"),
           ("asahi/cache/tier1.py", "Tier1.get"), ("asahi/cache/tier1.py", "Tier1.put"), (TIER2, "Tier2.probe"),
           (TIER2, "Tier2.answer_for"), (TIER2, "Tier2.served"), (TIER2, "Tier2.after_upstream"),
           ("asahi/routing/router.py", "Router.route"), ("asahi/routing/router.py", "Router.check_fits"),
           ("asahi/routing/router.py", "Router.baseline"), (PIPE, "Pipeline._router_vector"),
           ("asahi/providers/resilience.py", "Resilience.complete"), (PIPE, "Pipeline.record"),
           (OPENAI + "surface.py", "render_result"), (API, "json_response"), ("asahi/call.py", "Outcome.headers")],
    minus_edges=[(("asahi/api/hot_path.py", "HotPath.__call__"), ("starlette/responses.py", "Response.__call__")),
                 (("asahi/api/hot_path.py", "HotPath.__call__"),
                  ("starlette/responses.py", "StreamingResponse.__call__"))],
)
FRAMEWORK = "framework and other (uvicorn, Starlette's send, event loop, thread hand-offs, profiler)"


class Profile:
    """A yappi dump, searchable by (file suffix, qualified name)."""

    def __init__(self, dump: dict[str, Any]) -> None:
        self.functions: list[dict[str, Any]] = dump["functions"]
        self.threads: list[dict[str, Any]] = dump["threads"]

    @staticmethod
    def _is(entry: dict[str, Any], fn: Fn) -> bool:
        where, name = fn
        return bool(entry["module"].replace("\\", "/").endswith(where) and entry["name"] == name)

    def inclusive(self, fn: Fn) -> float:
        return float(sum(f["ttot"] for f in self.functions if self._is(f, fn)))

    def calls(self, fn: Fn) -> int:
        return sum(int(f["ncall"]) for f in self.functions if self._is(f, fn))

    def edge(self, caller: Fn, callee: Fn) -> float:
        return float(sum(c["ttot"] for f in self.functions if self._is(f, caller) for c in f["children"]
                         if self._is(c, callee)))

    def roots(self, pattern: str) -> list[dict[str, Any]]:
        """Functions no profiled function called: thread and greenlet entry points, loop callbacks."""
        called = {(c["module"], c["name"]) for f in self.functions for c in f["children"]}
        return [f for f in self.functions if (f["module"], f["name"]) not in called and re.search(pattern, f["module"])]

    def step(self, step: Step) -> float:
        if step.threads is not None or step.roots is not None:
            threads = sum(t["cpu_s"] for t in self.threads if step.threads and re.search(step.threads, t["name"]))
            roots = sum(f["ttot"] for f in self.roots(step.roots or "^$")
                        if not any(self._is(f, fn) for fn in step.minus))
            return float(threads + roots)
        return (sum(self.inclusive(fn) for fn in step.plus) - sum(self.inclusive(fn) for fn in step.minus)
                - sum(self.edge(a, b) for a, b in step.minus_edges))

    def total(self) -> float:
        return float(sum(t["cpu_s"] for t in self.threads))


# --- load -------------------------------------------------------------------------------------------------

def vocabulary() -> list[str]:
    """Whole words of MiniLM's vocabulary: prompts drawn from them are unlike each other, so tier 2 finds no
    candidate close enough to confirm (the common case of a miss)."""
    vocab = json.loads(TOKENIZER.read_text())["model"]["vocab"]
    return sorted(w for w in vocab if w.isalpha() and w.islower() and len(w) >= 4)


def distinct_prompts(words: list[str], seed: int) -> Callable[[int], str]:
    def prompt(i: int) -> str:
        rng = random.Random(f"{seed}-{i}")
        return " ".join(rng.choices(words, k=rng.randint(8, 20))) + f" ({seed}-{i})?"

    return prompt


def chat(question: str) -> bytes:
    return json.dumps({"model": MODEL, "max_tokens": 32, "messages": [
        {"role": "system", "content": "You are a terse assistant."}, {"role": "user", "content": question}]}).encode()


class Client:
    """One keep-alive connection, one request at a time."""

    def __init__(self, port: int, key: str) -> None:
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self._key = key

    def send(self, body: bytes, extra: dict[str, str] | None = None) -> str:
        headers = {"content-type": "application/json", "authorization": f"Bearer {self._key}", **(extra or {})}
        try:
            self._conn.request("POST", "/v1/chat/completions", body, headers)
            response = self._conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closes a connection idle past its keep-alive timeout (between scenarios): reopen it.
            self._conn.close()
            self._conn.request("POST", "/v1/chat/completions", body, headers)
            response = self._conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"request answered {response.status}")
        return response.getheader("x-asahi-cache", "absent").split(";")[0]

    def control(self, path: str) -> dict[str, Any]:
        self._conn.request("POST", path, b"")
        response = self._conn.getresponse()
        data: dict[str, Any] = json.loads(response.read())
        return data

    def close(self) -> None:
        self._conn.close()


@dataclass
class Scenario:
    name: str
    body: Callable[[int], bytes]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Measured:
    name: str
    requests: int
    cpu_us_plain: float
    cpu_us_profiled: float
    profile: Profile
    statuses: Counter[str]
    minilm_calls: int

    def per_request(self, seconds: float) -> float:
        return seconds / self.requests * 1e6


def send_all(clients: list[Client], scenario: Scenario, first: int, n: int) -> Counter[str]:
    """Requests first..first+n-1, spread over the clients (one thread each, one request at a time each)."""
    def run(c: int) -> Counter[str]:
        return Counter(clients[c].send(scenario.body(i), scenario.headers) for i in range(first + c, first + n,
                                                                                             len(clients)))

    with ThreadPoolExecutor(len(clients)) as pool:
        return sum(pool.map(run, range(len(clients))), Counter())


def measure(clients: list[Client], pid: int, scenario: Scenario, n: int, warmup: int) -> Measured:
    send_all(clients, scenario, 0, warmup)
    start = process_cpu(pid)
    send_all(clients, scenario, warmup, n)
    plain = (process_cpu(pid) - start) / n * 1e6
    clients[0].control(START)
    start = process_cpu(pid)
    statuses = send_all(clients, scenario, warmup + n, n)
    profiled = (process_cpu(pid) - start) / n * 1e6
    dump = clients[0].control(STOP)
    (OUT / f"profile-{scenario.name.replace(' ', '-')}.json").write_text(json.dumps(dump))
    profile = Profile(dump)
    minilm = profile.calls((LOCAL, "LocalEmbedder.embed_sync"))
    return Measured(scenario.name, n, plain, profiled, profile, statuses, minilm)


# --- the server under test --------------------------------------------------------------------------------

def asahi_env(upstream: Service, data_dir: Path) -> dict[str, str]:
    return {**clean_env(), "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": upstream.url + "/v1",
            "ASAHI_DATA_DIR": str(data_dir), "ASAHI_LOG_LEVEL": "WARNING"}


def api_key(asahi: str, env: dict[str, str]) -> str:
    subprocess.run([asahi, "migrate"], env=env, cwd=ROOT, capture_output=True, timeout=120)
    created = subprocess.run([asahi, "keys", "create", "--org-name", "bench", "--scopes", "infer,admin"],
                             env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    lines = [line.strip() for line in created.stdout.splitlines() if line.strip()]
    if created.returncode != 0 or not lines:
        raise RuntimeError(f"`asahi keys create` failed ({created.returncode}): {created.stderr[-300:]}")
    return lines[-1]


def start_asahi(name: str, argv: list[str], env: dict[str, str]) -> Service:
    port = free_port()
    service = Service(name, [*argv, "--port", str(port)], env, port).start()
    service.wait_ready("/v1/models", 120)
    return service


def cpus() -> tuple[set[int], set[int]] | None:
    allowed = sorted(os.sched_getaffinity(0))
    return None if len(allowed) < 2 else ({allowed[0]}, set(allowed[1:]))


# --- report -----------------------------------------------------------------------------------------------

def breakdown(runs: list[Measured]) -> list[tuple[str, list[float]]]:
    rows: list[tuple[str, list[float]]] = []
    for step in [*STEPS, GLUE]:
        rows.append((step.name, [run.per_request(run.profile.step(step)) for run in runs]))
    named = [sum(values[i] for _, values in rows) for i in range(len(runs))]
    rows.append((FRAMEWORK, [run.per_request(run.profile.total()) - named[i] for i, run in enumerate(runs)]))
    return rows


def table(runs: list[Measured]) -> str:
    """Per scenario: µs under the profiler with the step's share, and that share of the unprofiled total."""
    totals = [run.per_request(run.profile.total()) for run in runs]

    def cells(values: list[float]) -> str:
        return " | ".join(f"{v:,.0f} ({v / t:.0%}) | {v / t * run.cpu_us_plain:,.0f}" if t else "– | –"
                          for v, t, run in zip(values, totals, runs, strict=True))

    head = " | ".join(f"{run.name}: profiled µs (share) | {run.name}: ≈ µs unprofiled" for run in runs)
    lines = [f"| step | {head} |", "|---" * (2 * len(runs) + 1) + "|"]
    for name, values in breakdown(runs):
        lines.append(f"| {name} | {cells(values)} |")
    lines.append("| **total** (/proc, all threads) | " + " | ".join(
        f"**{t:,.0f}** | **{run.cpu_us_plain:,.0f}**" for t, run in zip(totals, runs, strict=True)) + " |")
    lines.append("| answers (x-asahi-cache) | " + " | ".join(
        ", ".join(f"{k} {v}" for k, v in run.statuses.most_common()) + " | " for run in runs) + " |")
    lines.append("| MiniLM calls per request (one call may embed a batch) | " + " | ".join(
        f"{run.minilm_calls / run.requests:.2f} | " for run in runs) + " |")
    return "\n".join(lines)


def functions_list() -> str:
    lines = []
    for step in [*STEPS, GLUE]:
        parts = [", ".join(f"`{name}`" for _, name in step.plus)] if step.plus else []
        if step.threads is not None:
            parts.append(f"the CPU of the threads named like `{step.threads}` (/proc)")
        if step.roots is not None:
            parts.append(f"the greenlets and callbacks rooted in modules `{step.roots}`")
        what = " and ".join(parts)
        taken = [f"`{name}`" for _, name in step.minus] + [f"`{b[1]}` under `{a[1]}`" for a, b in step.minus_edges]
        if taken:
            what += "; minus " + ", ".join(taken)
        lines.append(f"- {step.name}: {what}")
    lines.append(f"- {FRAMEWORK}: the total less all of the above")
    return "\n".join(lines)


def write_section(heading: str, section: str, after: str) -> None:
    """Replace `heading`'s section of docs/benchmarks.md, or put it right after the section `after`."""
    lines = DOC.read_text().splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == heading), None)
    if start is None:
        anchor = next((i for i, line in enumerate(lines) if line.strip() == after), None)
        if anchor is None:
            start = end = len(lines)
        else:
            start = end = next((i for i in range(anchor + 1, len(lines)) if re.match(r"#{1,2} ", lines[i])),
                               len(lines))
    else:
        end = next((i for i in range(start + 1, len(lines)) if re.match(r"#{1,2} ", lines[i])), len(lines))
    tail = "".join(lines[end:])
    DOC.write_text("".join(lines[:start]) + section.rstrip("\n") + "\n" + ("\n" + tail if tail else ""))


def machine() -> str:
    return (f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs shared with other work (1-minute load "
            f"{os.getloadavg()[0]:.1f}), Python {platform.python_version()}")


# --- main -------------------------------------------------------------------------------------------------

def run_cpu(args: argparse.Namespace) -> str:
    pinned = cpus()
    words = vocabulary()
    with tempfile.TemporaryDirectory(prefix="asahi-cpu-") as tmp:
        upstream = start_upstream(0)
        try:
            env = {**asahi_env(upstream, Path(tmp)), **dict(pair.split("=", 1) for pair in args.env)}
            key = api_key(args.asahi_bin, env)
            server = start_asahi("asahi-profiled", [sys.executable, str(Path(__file__).resolve()), "--serve"], env)
            try:
                if pinned:
                    pin(server.pid, pinned[0])
                    pin(upstream.pid, pinned[1])
                    os.sched_setaffinity(0, pinned[1])
                clients = [Client(server.port, key) for _ in range(args.conns)]
                prompt = distinct_prompts(words, int(time.time()))
                hit_body = chat("What is the boiling point of water at sea level, in Celsius?")
                runs = [measure(clients, server.pid, Scenario("miss", lambda i: chat(prompt(i))), args.requests,
                                args.warmup),
                        measure(clients, server.pid, Scenario("tier 1 hit", lambda i: hit_body), args.requests,
                                args.warmup)]
                from tier2_hits import PROBE, prime

                print(f"tier 2 priming: the probe answers {prime(server, key)}", file=sys.stderr)
                probe = chat(PROBE)
                runs.append(measure(clients, server.pid, Scenario("tier 2 hit", lambda i: probe,
                                                                  {"x-asahi-cache": "no-store"}),
                                    args.t2_requests, args.warmup // 4))
                for client in clients:
                    client.close()
            finally:
                server.stop()
        finally:
            upstream.stop()
    command = " ".join([".venv/bin/python", "bench/cpu_breakdown.py", *sys.argv[1:]])
    counts = ", ".join(f"{run.name} {run.requests:,}" for run in runs)
    return "\n".join([
        CPU_HEADING, "",
        f"Command: `{command}`", "",
        "CPU microseconds per request in one Asahi process on its defaults (tier 2 on, empty data dir) in front of "
        "the fake upstream as its OpenAI provider; requests come from another process over "
        f"{args.conns} keep-alive connection(s), one request at a time each. Each step is the inclusive CPU time "
        "of the functions that implement it (listed below the table), from a yappi profile (CPU clock, every "
        "thread, SQLAlchemy's greenlets as contexts of their own), per request, with its share of the total "
        "under the profiler. The profiler adds a fixed cost to every Python call, so the total under it is "
        "several times the real one and call-heavy steps (SQLAlchemy statements, the framework) weigh more than "
        "they do without it; \"≈ µs unprofiled\" spreads the total measured without the profiler by those shares, a "
        "first-order estimate. A miss is a prompt of random words (tier 1 misses; tier 2 searches and finds "
        "nothing close, so MiniLM does not run); a tier 1 hit repeats one body; a tier 2 hit is "
        "bench/tier2_hits.py's probe after its priming, sent with `x-asahi-cache: no-store` (a few go "
        "upstream: sampled verification).", "",
        f"Measured {machine()}; server pinned to one CPU, this script and the fake upstream to the other. "
        f"Requests per scenario: {counts} (after warm-up). Trust ratios more than absolute figures: the "
        "machine is shared.", "",
        table(runs), "",
        "What each step counts (file-qualified in `bench/cpu_breakdown.py`, `STEPS`):", "",
        functions_list(), ""])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="profiled (and unprofiled) requests per scenario")
    parser.add_argument("--t2-requests", type=int, default=600, help="the same for tier 2 hits (MiniLM: slower)")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the server (repeatable), e.g. to try a setting")
    parser.add_argument("--conns", type=int, default=1, help="connections, each sending one request at a time")
    parser.add_argument("--write-docs", action="store_true", help="replace this benchmark's section of "
                        "docs/benchmarks.md")
    parser.add_argument("--asahi-bin", default=str(Path(sys.executable).with_name("asahi")))
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve_profiled(args.port)
    OUT.mkdir(exist_ok=True)
    section = run_cpu(args)
    print(section)
    if args.write_docs:
        write_section(CPU_HEADING, section, AFTER_HEADING)
    return 0


if __name__ == "__main__":
    sys.exit(main())
