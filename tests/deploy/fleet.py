"""A fleet on loopback: `asahi serve` instances started as the container starts them (`install-and-serve.sh
serve`), on one PostgreSQL and one Redis, behind Debian's HAProxy checking `/health/ready`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.faults.harness import GatewayProcess, free_port, wait_until_ready

ROOT = Path(__file__).resolve().parents[2]
STEPS = ROOT / "deploy" / "install-and-serve.sh"
VENV = Path(sys.prefix)  # the project's venv: the wheel test covers installing, this one scaling out


class Instance(GatewayProcess):
    """One gateway started by the container's own script, with a data directory (its ledger spool) that outlives a
    restart, as a pod's volume; ready when `/health/ready` says so, as a load balancer would ask."""

    ready_path = "/health/ready"

    def __init__(self, name: str, env: dict[str, str], data_dir: Path) -> None:
        super().__init__({}, data_dir)
        self.name = name
        self.log = data_dir.parent / f"{name}.log"
        self.env = {**env, "PORT": str(self.port), "HOST": "127.0.0.1", "ASAHI_DATA_DIR": str(data_dir)}

    def command(self) -> tuple[list[str], Path]:
        return [str(STEPS), "serve", str(VENV)], self.data_dir

    def wait_ready(self, timeout: float = 90.0) -> None:
        super().wait_ready(timeout)


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
        wait_until_ready(self.url + "/health/ready", self.proc, self.log, 30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)
