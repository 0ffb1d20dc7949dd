"""A fleet on loopback: `asahi serve` instances started as the container starts them (`install-and-serve.sh
serve`), on one PostgreSQL and one Redis, behind Debian's HAProxy checking `/health/ready`."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.faults.harness import free_port

ROOT = Path(__file__).resolve().parents[2]
STEPS = ROOT / "deploy" / "install-and-serve.sh"
VENV = Path(sys.prefix)  # the project's venv: the wheel test covers installing, this one scaling out


def _wait_live(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready within {timeout} s:\n{log.read_text()[-3000:]}")


class Instance:
    """One gateway process with a data directory (its ledger spool) that outlives a restart, as a pod's volume."""

    def __init__(self, name: str, env: dict[str, str], data_dir: Path) -> None:
        self.name = name
        self.port = free_port()
        self.data_dir = data_dir
        self.log = data_dir.parent / f"{name}.log"
        self.env = {**env, "PORT": str(self.port), "HOST": "127.0.0.1", "ASAHI_DATA_DIR": str(data_dir)}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def launch(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([str(STEPS), "serve", str(VENV)], env=self.env, cwd=self.data_dir,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 90.0) -> None:
        assert self.proc is not None
        _wait_live(self.url, self.proc, self.log, timeout)

    def kill(self) -> None:
        """SIGKILL: nothing flushed, nothing drained, connections cut mid-request."""
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


HAPROXY_CONFIG = """\
global
    maxconn 2000

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    option forwardfor
    option redispatch
    retries 2
    retry-on conn-failure empty-response

frontend gateway
    bind 127.0.0.1:{port}
    default_backend asahi

backend asahi
    balance roundrobin
    option httpchk GET /health/ready
    http-check expect status 200
    default-server check inter 200ms fall 1 rise 2 on-marked-down shutdown-sessions
{servers}
"""


class Balancer:
    """HAProxy in the foreground (round robin, a readiness check every 200 ms, retries on refused connections)."""

    def __init__(self, instances: list[Instance], folder: Path) -> None:
        binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
        if not os.access(binary, os.X_OK):
            raise RuntimeError("haproxy is not installed: `make haproxy` installs Debian's")
        self.port = free_port()
        servers = "\n".join(f"    server {i.name} 127.0.0.1:{i.port}" for i in instances)
        config = folder / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(port=self.port, servers=servers))
        self.log = folder / "haproxy.log"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        _wait_live(self.url, self.proc, self.log, 30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
