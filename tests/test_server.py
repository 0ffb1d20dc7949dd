"""The server's own bounds, on a real socket: slow headers are cut off, a stalled body gets 408."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
import yaml

from asahi import server as server_module
from asahi.app import create_app
from asahi.server import guarded_protocol, in_container, listen_address, worker_count
from asahi.settings import SettingsError
from tests.conftest import SettingsFactory
from tests.faults.harness import free_port


@pytest.fixture
async def server(make_settings: SettingsFactory, tmp_path: Path) -> AsyncIterator[int]:
    overlay = tmp_path / "asahi.yaml"
    overlay.write_text(yaml.safe_dump({"server": {"header_timeout_seconds": 0.5, "body_timeout_seconds": 0.5}}))
    settings = make_settings(ASAHI_CONFIG=str(overlay))
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_config=None,
                            http=guarded_protocol(0.5), lifespan="on")
    instance = uvicorn.Server(config)
    task = asyncio.create_task(instance.serve())
    for _ in range(500):  # uvicorn offers no event for "listening"
        if instance.started:
            break
        await asyncio.sleep(0.02)
    yield port
    instance.should_exit = True
    await task


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_connection_that_never_finishes_its_headers_is_closed(server: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n")  # and nothing more
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 3) == b""  # closed by the server, well within 3 s
    writer.close()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
@pytest.mark.parametrize("path", ["/v1/chat/completions", "/signup"])
async def test_a_body_that_stalls_gets_408(server: int, path: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server}") as client:
        signed_up = await client.post("/signup", json={"org_name": "slow", "email": "a@example.com"})
    key = signed_up.json()["api_key"]
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(f"POST {path} HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
                 f"authorization: Bearer {key}\r\ncontent-length: 100\r\n\r\n{{\"model\":".encode())
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 3)
    assert b" 408 " in status_line
    writer.close()


@pytest.mark.parametrize(("flags", "env", "expected"), [
    ((None, None), {"ASAHI_IN_CONTAINER": "0"}, ("127.0.0.1", 8000)),
    ((None, None), {"ASAHI_IN_CONTAINER": "1"}, ("0.0.0.0", 8000)),
    ((None, None), {"ASAHI_IN_CONTAINER": "0", "PORT": "9123", "HOST": "::"}, ("::", 9123)),
    (("127.0.0.2", 9000), {"ASAHI_IN_CONTAINER": "1", "PORT": "9123", "HOST": "::"}, ("127.0.0.2", 9000)),
])
def test_the_listen_address_takes_flags_then_the_environment_then_where_it_runs(
        flags: tuple[str | None, int | None], env: dict[str, str], expected: tuple[str, int]) -> None:
    assert listen_address(*flags, environ=env) == expected


def test_a_container_is_recognised_by_its_runtime_marker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(server_module, "CONTAINER_MARKERS", (tmp_path / ".dockerenv",))
    assert not in_container({})
    (tmp_path / ".dockerenv").touch()
    assert in_container({}) and not in_container({"ASAHI_IN_CONTAINER": "false"})


@pytest.mark.parametrize("port", ["eighty", "70000", "0"])
def test_a_bad_port_is_a_named_error(port: str) -> None:
    with pytest.raises(SettingsError, match="PORT must be a whole number"):
        listen_address(None, None, {"PORT": port})


def test_a_bad_worker_count_is_a_named_error() -> None:
    with pytest.raises(SettingsError, match="WEB_CONCURRENCY"):
        worker_count(None, {"WEB_CONCURRENCY": "0"})


def test_workers_come_from_the_flag_then_web_concurrency() -> None:
    assert worker_count(None, {}) == 1
    assert worker_count(None, {"WEB_CONCURRENCY": "3"}) == 3
    assert worker_count(2, {"WEB_CONCURRENCY": "3"}) == 2


def test_math_libraries_run_one_thread_in_a_serving_process() -> None:
    # In a process of its own: the limit is process-wide.
    script = ("import numpy, os; from threadpoolctl import threadpool_info; from asahi.server import "
              "single_threaded_math; single_threaded_math(); "
              "print(os.environ['OMP_NUM_THREADS'], sorted({p['num_threads'] for p in threadpool_info()}))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.split() == ["1", "[1]"]
