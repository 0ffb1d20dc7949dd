"""Gateway overhead: what putting Asahi (or the LiteLLM proxy) in front of a provider costs.

Everything runs on 127.0.0.1 and stops by itself: a fake OpenAI-compatible upstream (bench/fake_upstream.py),
Asahi (`asahi serve`, one process, its own throwaway data dir and API key), the LiteLLM proxy (its own venv,
bench/litellm-config.yaml, one worker, no database) and wrk with bench/chat.lua. For every scenario (upstream
delay x cache miss/hit x JSON/SSE x 1/16/64 connections) each target gets one wrk run of --duration seconds,
interleaved so background noise lands on all targets alike. Recorded per run: requests/s, p50/p90/p99, latency
added over the direct run of the same scenario, the gateway's CPU seconds per 1k requests and RSS (from /proc,
process tree), and how many requests reached the upstream (a hit run must reach it ~never).

Misses: each request body is unique (counter in the user message); Asahi also gets `x-asahi-cache: no-cache`
so its semantic tier cannot answer near-identical benchmark questions. LiteLLM's in-memory cache is on for all
its runs, so its misses pay a lookup and a store, as Asahi's do. Hits: one fixed body, primed first; they are
independent of the upstream delay, so they run at the first delay only.

With two or more CPUs the server under test is pinned to one CPU and wrk plus the other services to another,
so the load generator does not steal the gateway's core.

    .venv/bin/python bench/gateway_bench.py                       # everything, ~10 min
    .venv/bin/python bench/gateway_bench.py --only direct,litellm --duration 5 --delays 0
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
OUT = BENCH / ".out"
LUA = BENCH / "chat.lua"
DOC = ROOT / "docs" / "benchmarks.md"
HEADING = "## Gateway overhead (vs LiteLLM)"
MODEL = "gpt-4o-mini"
LITELLM_KEY = "sk-litellm-bench"
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# --- processes --------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (a gateway may fork workers); read from /proc, no psutil needed."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def cpu_seconds(pid: int) -> float:
    total = 0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def rss_mb(pid: int) -> float:
    pages = 0
    for p in process_tree(pid):
        try:
            pages += int(Path(f"/proc/{p}/statm").read_text().split()[1])
        except OSError:
            continue
    return pages * PAGE / 2**20


def pin(pid: int, cpus: set[int] | None) -> None:
    """Move every thread of every process in the tree onto `cpus` (threads keep their own affinity)."""
    if not cpus:
        return
    for p in process_tree(pid):
        try:
            tids = [int(t.name) for t in Path(f"/proc/{p}/task").iterdir()]
        except OSError:
            continue
        for tid in tids:
            with suppress(OSError):  # the thread ended meanwhile
                os.sched_setaffinity(tid, cpus)


@dataclass
class Service:
    """A child process in its own session (so stopping it takes its workers too), logging to bench/.out."""

    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        log = (OUT / f"{self.name}.log").open("wb")
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, path: str, timeout: float) -> None:
        """Return once `path` answers any HTTP status; stop the process and raise if it never does."""
        try:
            self._poll(path, timeout)
        except RuntimeError:
            self.stop()
            raise

    def _poll(self, path: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_hint()}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # it answers HTTP: it is up
            except OSError:
                time.sleep(0.25)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s; see {self.log_hint()}")

    def log_hint(self) -> str:
        return str((OUT / f"{self.name}.log").relative_to(ROOT))

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


def http_json(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
              timeout: float = 30) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


# --- targets ----------------------------------------------------------------------------------------------

@dataclass
class Target:
    name: str
    service: Service
    key: str = ""
    miss_headers: str = ""  # BENCH_HEADERS for miss runs
    modes: tuple[str, ...] = ("miss", "hit")
    rss_idle_mb: float = 0.0
    notes: list[str] = field(default_factory=list)

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"} if self.key else {}

    def check(self) -> None:
        """One real completion through the target, so a broken set-up fails before any load is sent."""
        status, _, body = http_json("POST", self.service.url + "/v1/chat/completions", headers=self.auth(),
                                    body={"model": MODEL, "messages": [{"role": "user", "content": "ping"}]})
        if status != 200 or b"quick brown fox" not in body:
            raise RuntimeError(f"{self.name}: test completion answered {status}: {body[:300]!r}")


def start_upstream(delay_ms: float) -> Service:
    port = free_port()
    service = Service("upstream", [sys.executable, str(BENCH / "fake_upstream.py"), "--port", str(port),
                                   "--delay-ms", str(delay_ms)], dict(os.environ), port).start()
    service.wait_ready("/v1/models", 30)
    return service


def clean_env() -> dict[str, str]:
    """The caller's environment minus anything that would point a gateway at real services or keys."""
    drop = re.compile(r"^(ASAHI_|OPENAI_|ANTHROPIC_|COHERE_|PINECONE_|SENDGRID_|SMTP_|LITELLM_|DATABASE_URL$|"
                      r"REDIS_URL$)")
    return {k: v for k, v in os.environ.items() if not drop.match(k)}


def without_tier2(folder: Path) -> Path:
    """A config overlay with tier 2 off: what the pipeline itself adds, without the embedding."""
    config = {"cache": {"tier2": {"enabled": False}}}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config-no-tier2.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def asahi_target(name: str, asahi: str, upstream: Service, data_dir: Path, redis_url: str | None,
                 miss_header: str, modes: tuple[str, ...], config: Path | None = None, workers: int = 1) -> Target:
    env = {**clean_env(), "OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": upstream.url + "/v1",
           "ASAHI_DATA_DIR": str(data_dir), "ASAHI_LOG_LEVEL": "WARNING"}
    if redis_url:
        env["REDIS_URL"] = redis_url
    if config is not None:
        env["ASAHI_CONFIG"] = str(config)
    # Its outcome shows in the next step: `keys create` fails with a clear message on an unmigrated store.
    subprocess.run([asahi, "migrate"], env=env, cwd=ROOT, capture_output=True, timeout=120)
    created = subprocess.run([asahi, "keys", "create", "--org-name", "bench", "--scopes", "infer,admin"],
                             env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    lines = [line.strip() for line in created.stdout.splitlines() if line.strip()]
    if created.returncode != 0 or not lines:
        raise RuntimeError(f"{name}: `asahi keys create` failed ({created.returncode}): {created.stderr[-300:]}")
    port = free_port()
    service = Service(name, [asahi, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
                      env, port).start()
    service.wait_ready("/v1/models", 120)
    return Target(name, service, key=lines[-1], miss_headers=miss_header, modes=modes)


def litellm_target(litellm: str, upstream: Service) -> Target:
    env = {**clean_env(), "BENCH_UPSTREAM_BASE": upstream.url + "/v1", "LITELLM_MASTER_KEY": LITELLM_KEY,
           "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    port = free_port()
    service = Service("litellm", [litellm, "--config", str(BENCH / "litellm-config.yaml"), "--host", "127.0.0.1",
                                  "--port", str(port), "--num_workers", "1"], env, port).start()
    service.wait_ready("/health/liveliness", 180)
    return Target("litellm", service, key=LITELLM_KEY)


def probe_asahi_cache(target: Target) -> str:
    """Say whether Asahi honoured the miss header and answered a repeat from tier 1 (its x-asahi-cache)."""
    body = {"model": MODEL, "messages": [{"role": "user", "content": f"probe {time.time_ns()}"}]}
    url = target.service.url + "/v1/chat/completions"
    name, _, value = target.miss_headers.partition(":")
    miss = {name.strip(): value.strip()} if name.strip() else {}
    seen = []
    for extra in ({}, {}, miss):
        _, headers, _ = http_json("POST", url, body, {**target.auth(), **extra})
        seen.append({k.lower(): v for k, v in headers.items()}.get("x-asahi-cache", "absent"))
    return f"x-asahi-cache on first/repeat/repeat-with-miss-header: {' / '.join(seen)}"


# --- runs -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    delay_ms: float
    mode: str  # miss | hit
    stream: bool
    conns: int

    def label(self) -> str:
        return f"delay={self.delay_ms:g}ms {self.mode} {'sse' if self.stream else 'json'} c={self.conns}"


def wrk(url: str, key: str, mode: str, stream: bool, conns: int, seconds: float, headers: str,
        cpus: set[int] | None) -> dict[str, Any]:
    env = {**os.environ, "BENCH_MODE": mode, "BENCH_STREAM": "1" if stream else "0", "BENCH_KEY": key,
           "BENCH_HEADERS": headers, "BENCH_MODEL": MODEL, "BENCH_NONCE": str(time.time_ns())}
    argv = ["wrk", f"-t{1 if conns == 1 else 2}", f"-c{conns}", f"-d{seconds:g}s", "--timeout", "10s",
            "-s", str(LUA), url]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 60,
                          preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
            return result
    raise RuntimeError(f"wrk gave no result ({done.returncode}): {done.stderr[-300:]}")


def upstream_calls(upstream: Service) -> int:
    _, _, body = http_json("GET", upstream.url + "/_bench/stats")
    calls: int = json.loads(body)["completions"]
    return calls


def run_one(target: Target, scenario: Scenario, upstream: Service, seconds: float,
            cpus: tuple[set[int], set[int]] | None, others: list[Service]) -> dict[str, Any]:
    if cpus:
        pin(target.service.pid, cpus[0])
        for other in others:
            pin(other.pid, cpus[1])
    before_cpu, before_calls = cpu_seconds(target.service.pid), upstream_calls(upstream)
    headers = target.miss_headers if scenario.mode == "miss" else ""
    result = wrk(target.service.url, target.key, scenario.mode, scenario.stream, scenario.conns, seconds,
                 headers, cpus[1] if cpus else None)
    cpu = cpu_seconds(target.service.pid) - before_cpu
    calls = upstream_calls(upstream) - before_calls
    requests = max(result["requests"], 1)
    return {"target": target.name, **asdict(scenario), **result,
            "cpu_s_per_1k": round(cpu / requests * 1000, 3), "rss_after_mb": round(rss_mb(target.service.pid), 1),
            "upstream_share": round(calls / requests, 3) if target.name != "direct" else 1.0}


def prime_hits(target: Target, stream: bool, cpus: set[int] | None) -> None:
    """Store the fixed hit body (a short wrk run with the same script, so the body is byte-identical)."""
    wrk(target.service.url, target.key, "hit", stream, 1, 1, "", cpus)


def set_delay(upstream: Service, delay_ms: float) -> None:
    http_json("POST", f"{upstream.url}/_bench/delay?ms={delay_ms:g}")


def scenarios(delays: list[float], conns: list[int], modes: list[str]) -> Iterator[Scenario]:
    for delay in delays:
        for mode in modes:
            if mode == "hit" and delay != delays[0]:
                continue  # a hit never reaches the upstream: its delay changes nothing
            for stream in (False, True):
                for c in conns:
                    yield Scenario(delay, mode, stream, c)


def added(rows: list[dict[str, Any]]) -> None:
    """Latency added over the direct run of the same delay, body kind and concurrency."""
    direct = {(r["delay_ms"], r["stream"], r["conns"]): r for r in rows if r["target"] == "direct"}
    for r in rows:
        base = direct.get((r["delay_ms"], r["stream"], r["conns"]))
        if base is not None and r["target"] != "direct":
            r["added_p50_ms"] = round(r["p50_ms"] - base["p50_ms"], 2)
            r["added_p99_ms"] = round(r["p99_ms"] - base["p99_ms"], 2)


# --- report -----------------------------------------------------------------------------------------------

def markdown(report: dict[str, Any]) -> str:
    def num(value: Any, digits: int = 1) -> str:
        return "–" if value is None else f"{value:,.{digits}f}"

    lines = [HEADING, "",
             "What a request pays for going through the gateway instead of straight to the provider. "
             "Produced by `bench/gateway_bench.py` against a fake OpenAI-compatible upstream that answers in "
             "0 ms (or the stated delay); one gateway process each; wrk on 127.0.0.1. `asahi` runs the defaults "
             "(tier 2 on: every miss is embedded with the static table, searched and stored; MiniLM runs only "
             "for candidates that could hit), `asahi-t1` the same with tier 2 off (the "
             "pipeline's own cost), `asahi-redis` keeps tier 1 in Redis.", "",
             f"Command: `{report['command']}`", "",
             f"Measured {report['date']}: {report['cpus']} CPUs, Python {report['python']}, "
             f"{report['versions']}; {report['pinning']}. Each run {report['duration_s']:g} s. "
             "Added latency is against the direct run of the same delay, body kind and concurrency; "
             "`upstream` is the share of requests that reached the upstream (1.0 for misses, ~0 for hits; above "
             "1 when many slow requests were still in flight as wrk stopped). "
             "CPU is the gateway process's CPU seconds per 1,000 requests."
             + (f" 1-minute load average before/after: {report['loadavg']}." if "loadavg" in report else ""), ""]
    for target in report["targets"]:
        lines.append(f"- **{target['name']}**: idle RSS {num(target['rss_idle_mb'])} MB"
                     + "".join(f"; {note}" for note in target["notes"]))
    for note in report["notes"]:
        lines.append(f"- {note}")
    lines += ["", "| target | delay | cache | body | conns | req/s | p50 ms | p90 ms | p99 ms | +p50 ms | "
                  "+p99 ms | CPU s/1k | RSS MB | upstream | errors |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["runs"]:
        errors = sum(r["errors"].values())
        lines.append(
            f"| {r['target']} | {r['delay_ms']:g} ms | {r['mode']} | {'SSE' if r['stream'] else 'JSON'} | "
            f"{r['conns']} | {num(r['rps'], 0)} | {num(r['p50_ms'], 2)} | {num(r['p90_ms'], 2)} | "
            f"{num(r['p99_ms'], 2)} | {num(r.get('added_p50_ms'), 2)} | {num(r.get('added_p99_ms'), 2)} | "
            f"{num(r['cpu_s_per_1k'], 3)} | {num(r['rss_after_mb'])} | {r['upstream_share']:.2f} | "
            f"{errors if errors else 0} |")
    return "\n".join(lines) + "\n"


def write_section(section: str) -> None:
    """Replace only our section of docs/benchmarks.md (other benchmarks own the rest of the file)."""
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == HEADING), None)
    if start is None:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        DOC.write_text(text.rstrip("\n") + "\n\n" + section)
        return
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"#{1,2} ", lines[i])), len(lines))
    tail = "".join(lines[end:])
    DOC.write_text("".join(lines[:start]) + section + ("\n" + tail if tail else ""))


def versions(litellm: str | None) -> str:
    parts = [subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split(" [")[0].strip()]
    if litellm:
        python = Path(litellm).with_name("python")
        done = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
                              capture_output=True, text=True)
        parts.append(f"litellm {done.stdout.strip() or '?'}")
    return ", ".join(parts)


# --- main -------------------------------------------------------------------------------------------------

def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="direct,asahi,asahi-t1,litellm",
                        help="comma-separated targets among direct, asahi (defaults), asahi-t1 (tier 2 off), "
                             "litellm")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run (1-60)")
    parser.add_argument("--delays", default="0,50", help="upstream delays in ms, comma-separated")
    parser.add_argument("--conns", default="1,16,64", help="wrk connections, comma-separated (max 256)")
    parser.add_argument("--modes", default="miss,hit", help="miss, hit or both")
    parser.add_argument("--redis", metavar="URL", help="also run Asahi's tier-1 hits with REDIS_URL=URL")
    parser.add_argument("--asahi-bin", default=str(Path(sys.executable).with_name("asahi")),
                        help="the asahi command (default: next to this Python)")
    parser.add_argument("--litellm-bin", default=str(BENCH / ".venv-litellm" / "bin" / "litellm"))
    parser.add_argument("--asahi-miss-header", default="x-asahi-cache: no-cache",
                        help="header sent to Asahi on miss runs ('' for none)")
    parser.add_argument("--workers", type=int, default=1,
                        help="asahi serve --workers N (above 1 implies --no-pin: the workers need the cores)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the server under test to its own CPU")
    parser.add_argument("--no-doc", action="store_true", help="print JSON only, leave docs/benchmarks.md alone")
    args = parser.parse_args()
    args.only = [t.strip() for t in args.only.split(",") if t.strip()]
    args.delays = [float(d) for d in args.delays.split(",")]
    args.conns = [int(c) for c in args.conns.split(",")]
    args.modes = [m.strip() for m in args.modes.split(",")]
    if not set(args.only) <= {"direct", "asahi", "asahi-t1", "litellm"} or not set(args.modes) <= {"miss", "hit"}:
        parser.error("--only takes direct, asahi, asahi-t1, litellm; --modes takes miss, hit")
    if not 1 <= args.duration <= 60 or not all(1 <= c <= 256 for c in args.conns):
        parser.error("--duration must be 1-60 s and --conns 1-256: this benchmark stays small and bounded")
    if not 1 <= args.workers <= 8:
        parser.error("--workers must be 1-8")
    args.no_pin = args.no_pin or args.workers > 1
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (Debian: apt-get install -y wrk)")
    return args


def main() -> int:
    args = parse_args()
    OUT.mkdir(exist_ok=True)
    allowed = sorted(os.sched_getaffinity(0))
    cpus = None if args.no_pin or len(allowed) < 2 else ({allowed[0]}, set(allowed[1:]))
    report: dict[str, Any] = {
        "command": " ".join([".venv/bin/python", "bench/gateway_bench.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%d"), "cpus": len(allowed), "python": platform.python_version(),
        "duration_s": args.duration, "workers": args.workers, "targets": [], "notes": [], "runs": [],
        "pinning": (f"server under test pinned to CPU {allowed[0]}, wrk and the other processes to the rest"
                    if cpus else "no CPU pinning"),
        "versions": versions(args.litellm_bin if "litellm" in args.only else None),
        "loadavg": f"{os.getloadavg()[0]:.1f}"}
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="asahi-bench-") as tmp:
        upstream = start_upstream(args.delays[0])
        stack.callback(upstream.stop)
        targets: list[Target] = []
        if "direct" in args.only:
            targets.append(Target("direct", upstream, modes=("miss",)))
        starters: list[Callable[[], Target]] = []
        if "asahi" in args.only:
            starters.append(lambda: asahi_target("asahi", args.asahi_bin, upstream, Path(tmp) / "memory", None,
                                                 args.asahi_miss_header, ("miss", "hit"), workers=args.workers))
            if args.redis:
                starters.append(lambda: asahi_target("asahi-redis", args.asahi_bin, upstream, Path(tmp) / "redis",
                                                     args.redis, args.asahi_miss_header, ("hit",),
                                                     workers=args.workers))
        if "asahi-t1" in args.only:
            starters.append(lambda: asahi_target("asahi-t1", args.asahi_bin, upstream, Path(tmp) / "t1", None,
                                                 args.asahi_miss_header, ("miss", "hit"),
                                                 without_tier2(Path(tmp) / "t1"), args.workers))
        if "litellm" in args.only:
            starters.append(lambda: litellm_target(args.litellm_bin, upstream))
        for start in starters:
            try:
                target = start()
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                report["notes"].append(f"not measured: {exc}")
                print(f"skipping: {exc}", file=sys.stderr)
                continue
            stack.callback(target.service.stop)
            try:
                target.check()
            except (RuntimeError, OSError) as exc:
                report["notes"].append(f"not measured: {exc}")
                print(f"skipping: {exc}", file=sys.stderr)
                target.service.stop()
                continue
            target.rss_idle_mb = round(rss_mb(target.service.pid), 1)
            if target.name.startswith("asahi"):
                target.notes.append(probe_asahi_cache(target))
            targets.append(target)
        gateways = [t for t in targets if t.name != "direct"]
        for target in gateways:  # warm-up (lazy imports, pools, JIT-ish caches): not recorded
            wrk(target.service.url, target.key, "miss", False, 16, min(3.0, args.duration), target.miss_headers,
                cpus[1] if cpus else None)
        services = [upstream, *(t.service for t in gateways)]
        plan = [(s, t) for s in scenarios(args.delays, args.conns, args.modes) for t in targets
                if s.mode in t.modes]
        print(f"{len(plan)} runs of {args.duration:g} s (~{len(plan) * (args.duration + 1.5) / 60:.1f} min)",
              file=sys.stderr)
        primed: set[tuple[str, bool]] = set()
        for scenario, target in plan:
            set_delay(upstream, scenario.delay_ms)
            if scenario.mode == "hit" and (target.name, scenario.stream) not in primed:
                prime_hits(target, scenario.stream, cpus[1] if cpus else None)
                primed.add((target.name, scenario.stream))
            others = [s for s in services if s is not target.service]
            row = run_one(target, scenario, upstream, args.duration, cpus, others)
            report["runs"].append(row)
            print(f"{target.name:12} {scenario.label():32} {row['rps']:9.1f} req/s  p50 {row['p50_ms']:8.2f}  "
                  f"p99 {row['p99_ms']:8.2f} ms  upstream {row['upstream_share']:.2f}", file=sys.stderr)
        added(report["runs"])
        report["loadavg"] += f" / {os.getloadavg()[0]:.1f}"  # noise from other work on the machine
        report["targets"] = [{"name": t.name, "rss_idle_mb": t.rss_idle_mb, "notes": t.notes}
                             for t in targets if t.name != "direct"]
    if "hit" in args.modes and "litellm" in args.only:
        report["notes"].append("LiteLLM hits use its in-memory cache (`cache: true`, `type: local`)")
    (OUT / "gateway-bench.json").write_text(json.dumps(report, indent=2))
    if not args.no_doc:
        write_section(markdown(report))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
