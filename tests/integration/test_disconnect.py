"""A client that goes away mid-stream: the upstream stream is closed, nothing is cached, the ledger says 499.

The ASGI app is called directly with a `receive` that reports `http.disconnect` once the first body chunk has
been sent, which is what a server does when the client's socket closes.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
from starlette.types import Message

from tests.fakes.server import Reply
from tests.integration.conftest import CLAUDE, GPT, Gateway

PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}
# About 40 events, 50 ms apart: the client is long gone before the upstream could finish.
LONG = Reply(text=" ".join(f"word{i}" for i in range(80)), event_delay=0.05)


async def disconnect_after_first_chunk(gateway: Gateway, path: str, body: dict[str, Any]) -> list[Message]:
    """Send one request to the app and hang up once the first piece of the response body is out."""
    first_chunk = asyncio.Event()
    request_read = False
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal request_read
        if not request_read:
            request_read = True
            return {"type": "http.request", "body": orjson.dumps(body), "more_body": False}
        await first_chunk.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body" and message.get("body"):
            first_chunk.set()

    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("asahi.test", 80),
        "headers": [(b"host", b"asahi.test"), (b"content-type", b"application/json"),
                    (b"authorization", f"Bearer {gateway.key}".encode())],
    }
    await asyncio.wait_for(gateway.running.app(scope, receive, send), timeout=10)
    return sent


async def eventually(condition: Any, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("surface", ["openai", "anthropic"])
@pytest.mark.parametrize("model", [GPT, CLAUDE])
async def test_client_gone_mid_stream(gateway: Gateway, surface: str, model: str) -> None:
    fake = gateway.anthropic if model == CLAUDE else gateway.openai
    fake.script(LONG)
    body = {"model": model, "max_tokens": 100, "stream": True, "messages": [{"role": "user", "content": "Go on"}]}
    started = time.monotonic()
    sent = await disconnect_after_first_chunk(gateway, PATHS[surface], body)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 200
    assert time.monotonic() - started < 1.5  # the app stopped with the client, not with the upstream
    await eventually(lambda: fake.abandoned_streams == 1)  # the upstream saw its connection go away

    rows = await gateway.ledger()
    assert [(row["status"], row["model_used"]) for row in rows] == [(499, model)]
    # The provider bills a cut-off stream too: the row carries an estimate, flagged as one, never a complete $0.
    assert rows[0]["input_tokens"] > 0 and rows[0]["cost_usd"] > 0 and rows[0]["cost_complete"] is False
    again = await gateway.post(PATHS[surface], body)
    assert again.status_code == 200 and again.headers["x-asahi-cache"] == "miss"
    assert len(fake.requests) == 2
