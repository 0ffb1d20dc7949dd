"""The server's own bounds, on a real socket: slow headers are cut off, a stalled body gets 408."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
import yaml

from asahi.app import create_app
from asahi.server import guarded_protocol
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
