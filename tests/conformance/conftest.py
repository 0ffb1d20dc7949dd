"""The SDK conformance suite: Asahi served by uvicorn on a loopback port (so sync and async clients, and the
frameworks that build their own clients, all speak real HTTP to it), the fake providers behind it.

Each test that passes records what it showed in `RESULTS`; with `ASAHI_WRITE_COMPATIBILITY=1` the run writes the
tables of docs/compatibility.md from them (`tests/conformance/tables.py`).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
import yaml

from asahi.app import create_app
from asahi.settings import load_settings
from tests.conformance import tables
from tests.fakes.anthropic_server import FakeAnthropicEndpoints
from tests.fakes.openai_server import FakeOpenAIEndpoints


@dataclass
class Served:
    url: str
    key: str
    openai: FakeOpenAIEndpoints
    anthropic: FakeAnthropicEndpoints

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def post(self, path: str, body: dict[str, object], **headers: str) -> httpx.Response:
        return httpx.post(self.url + path, json=body, headers={**self.headers, **headers}, timeout=30)


@pytest.fixture(scope="session")
def served(openai_server: FakeOpenAIEndpoints, anthropic_server: FakeAnthropicEndpoints,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("conformance")
    overlay = folder / "config.yaml"
    # Tier 2 off: these tests share one gateway and script each answer, and short prompts such as "hi" or
    # "weather?" would be answered from an earlier test's semantic entry (tier 2 has tests of its own).
    overlay.write_text(yaml.safe_dump({"routing": {"max_retries": 0, "request_timeout_seconds": 10},
                                       "cache": {"tier2": {"enabled": False}}}))
    settings = load_settings({
        "ASAHI_DATA_DIR": str(folder / "data"), "ASAHI_LOG_LEVEL": "WARNING", "ASAHI_CONFIG": str(overlay),
        "OPENAI_API_KEY": openai_server.api_key, "OPENAI_BASE_URL": openai_server.base_url,
        "ANTHROPIC_API_KEY": anthropic_server.api_key, "ANTHROPIC_BASE_URL": anthropic_server.url,
    })
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.02)
    url = f"http://127.0.0.1:{port}"
    signup = httpx.post(url + "/signup", json={"org_name": "conformance", "email": "sdk@example.com"})
    assert signup.status_code == 201, signup.text
    try:
        yield Served(url, signup.json()["api_key"], openai_server, anthropic_server)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if os.environ.get("ASAHI_WRITE_COMPATIBILITY"):
            tables.write(Path(__file__).resolve().parents[2] / "docs" / "compatibility.md")


@pytest.fixture
def gw(served: Served) -> Served:
    served.openai.reset()
    served.anthropic.reset()
    return served
