"""Throwaway servers for fault tests: a PostgreSQL, a Redis and `asahi serve`, each on a spare port, each its own
process that a test may stop, kill, freeze and start again without touching anything else on the machine.

`bench/fault_report.py` runs the same scenarios for longer and writes docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(argv: list[str]) -> list[str]:
    """initdb and pg_ctl refuse to run as root; run them as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found:
        raise RuntimeError("PostgreSQL server binaries are not installed (Debian package postgresql)")
    return found[-1].parent


class Postgres:
    """A PostgreSQL cluster in a temporary folder, with a database `asahi`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="asahi-fault-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._bin = _pg_bin()
        subprocess.run(_as_postgres([str(self._bin / "initdb"), "-D", str(self.dir / "data"), "-U", "postgres",
                                     "-A", "trust"]), check=True, capture_output=True)
        self.start()
        subprocess.run(_as_postgres([str(self._bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                                     "-U", "postgres", "asahi"]), check=True, capture_output=True)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/asahi"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(_as_postgres([str(self._bin / "pg_ctl"), "-D", str(self.dir / "data"), "-o", options,
                                     "-l", str(self.dir / "log"), "-w", "start"]), check=True, capture_output=True)

    def stop(self) -> None:
        """An immediate stop: every connection is cut, as when the server dies."""
        subprocess.run(_as_postgres([str(self._bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate",
                                     "-w", "stop"]), capture_output=True)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer:
    def __init__(self, *, started: bool = True) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="asahi-fault-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None
        if started:
            self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def freeze(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def close(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGCONT)
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def wait_until_ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    """Until `url` answers 200; fails early with the log's tail if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready within {timeout} s:\n{log.read_text()[-3000:]}")


class GatewayProcess:
    """`asahi serve` in its own process, on the simulator, with a data directory that outlives restarts."""

    ready_path = "/health/live"

    def __init__(self, env: dict[str, str], data_dir: Path) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("ASAHI_", "OPENAI_", "ANTHROPIC_"))
               and k not in ("DATABASE_URL", "REDIS_URL")},
            "ASAHI_DATA_DIR": str(data_dir), "ASAHI_LOG_LEVEL": "WARNING", **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "gateway.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> tuple[list[str], Path]:
        """What starts the gateway, and the directory it starts in."""
        return [sys.executable, "-m", "asahi.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)], ROOT

    def start(self, timeout: float = 60.0) -> None:
        self.launch()
        self.wait_ready(timeout)

    def launch(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args, cwd = self.command()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(args, env=self.env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)

    def wait_ready(self, timeout: float = 60.0) -> None:
        assert self.proc is not None
        wait_until_ready(self.url + self.ready_path, self.proc, self.log, timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no draining, nothing flushed by the process itself."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
            self.proc = None


@dataclass
class Load:
    """Requests sent continuously by `clients` concurrent clients; every answer kept."""

    answers: list[tuple[int, str | None, float]] = field(default_factory=list)  # (status, request id, seconds)

    def ok_ids(self) -> set[str]:
        return {rid for status, rid, _ in self.answers if status == 200 and rid}

    def statuses(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for status, _, _ in self.answers:
            counts[status] = counts.get(status, 0) + 1
        return counts

    def server_errors(self) -> int:
        return sum(1 for status, _, _ in self.answers if status >= 500)


async def run_load(url: str, key: str, stop: asyncio.Event, load: Load, *, clients: int = 8,
                   body: Callable[[int], dict[str, Any]] | None = None) -> Load:
    """Distinct chat requests until `stop` is set, answers added to `load` as they come. A connection error (the
    gateway killed) counts as status 0."""
    counter = 0

    def next_body() -> dict[str, Any]:
        nonlocal counter
        counter += 1
        if body is not None:
            return body(counter)
        return {"model": "asahi-sim-gpt-4o-mini", "messages": [{"role": "user", "content": f"question {counter}"}]}

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=10, headers={"Authorization": f"Bearer {key}"}) as http:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    response = await http.post("/v1/chat/completions", json=next_body())
                    load.answers.append((response.status_code, response.headers.get("x-asahi-request-id"),
                                         time.monotonic() - started))
                except httpx.HTTPError:
                    load.answers.append((0, None, time.monotonic() - started))
                    await asyncio.sleep(0.05)

    await asyncio.gather(*(client() for _ in range(clients)))
    return load


def signup(url: str) -> str:
    response = httpx.post(url + "/signup", json={"org_name": f"fault-{os.urandom(4).hex()}",
                                                  "email": "ops@example.com"}, timeout=10)
    response.raise_for_status()
    return str(response.json()["api_key"])


def wait_for(check: Callable[[], bool], timeout: float, step: float = 0.1) -> float:
    """Seconds until `check()` held; raises when it never did within `timeout`."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(step)
    raise AssertionError(f"not within {timeout} s")


def health(url: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = httpx.get(url + "/health", timeout=5).json()
        return data
    except (httpx.HTTPError, ValueError):
        return {}
