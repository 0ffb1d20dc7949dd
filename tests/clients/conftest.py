"""Client libraries against a real `asahi serve` on the simulator, offline, as a new user would point them at it.

One server for the whole run: a free loopback port, a throwaway data dir, no provider key (so every model is the
simulator's) and otherwise the shipped defaults, signup limit aside. Each client gets its own org, so one
client's cached answers never answer another's questions.

Every test is marked `compat(client, feature, how)`. With ASAHI_COMPAT_TABLE naming a file, the run writes the
client × feature table into it, between its markers (`make compat-table` writes docs/compatibility.md).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.clients.table import Outcome, write_table

RESULTS: list[Outcome] = []


@dataclass(frozen=True)
class Asahi:
    url: str
    signup: Callable[[str], str]  # org name -> an API key of that new org

    @property
    def v1(self) -> str:
        return f"{self.url}/v1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def asahi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Asahi]:
    folder = tmp_path_factory.mktemp("asahi-clients")
    # Laid over the packaged defaults: one signup per client module from one address.
    (folder / "config.yaml").write_text(yaml.safe_dump({"server": {"signup_rate_limit_per_hour": 1000}}))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder), "ASAHI_LOG_LEVEL": "WARNING",
           "ASAHI_DATA_DIR": str(folder / "data"), "ASAHI_CONFIG": str(folder / "config.yaml")}
    port = _free_port()
    log = folder / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("asahi")), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(server, url, log)

        def signup(name: str) -> str:
            response = httpx.post(f"{url}/signup", json={"org_name": name, "email": "dev@example.com"}, timeout=30)
            assert response.status_code == 201, response.text
            return str(response.json()["api_key"])

        yield Asahi(url, signup)
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_ready(server: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"asahi serve exited with {server.returncode}:\n{log.read_text()[-2000:]}")
        try:
            httpx.get(f"{url}/health", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    pytest.fail(f"asahi serve did not answer within {timeout:.0f} s:\n{log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def key(asahi: Asahi, request: pytest.FixtureRequest) -> str:
    """An API key of an org of this test module's own."""
    return asahi.signup(f"clients-{request.module.__name__.rsplit('.', 1)[-1]}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    report = yield
    if report.when == "call" or report.failed:
        for marker in item.iter_markers("compat"):
            client, feature = marker.args
            RESULTS.append(Outcome(client, feature, str(marker.kwargs.get("how", "")), report.passed))
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get("ASAHI_COMPAT_TABLE")
    if target and RESULTS:
        write_table(Path(target), RESULTS)
