"""Asahi in front of the fake OpenAI and Anthropic servers, on both backends.

The fakes are started once per session and reset per test. Each gateway reads a copy of the default config with
a short provider timeout and no retries, so a scripted failure reaches the client as it is instead of being
retried into a default reply.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from sqlalchemy import select

from asahi.store.tables import usage_records
from tests.conftest import Running, SettingsFactory, start
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_server import FakeOpenAI

CLAUDE = "claude-haiku-4-5"  # answered by the fake Anthropic server
GPT = "gpt-4o-mini"  # answered by the fake OpenAI server
WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


@dataclass
class Gateway:
    running: Running
    key: str  # an Asahi key of a fresh org
    openai: FakeOpenAI
    anthropic: FakeAnthropic

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    async def post(self, path: str, body: dict[str, Any], **headers: str) -> Any:
        return await self.running.client.post(path, json=body, headers={**self.headers, **headers})

    async def ledger(self) -> list[dict[str, Any]]:
        return await ledger_rows(self.running)


async def ledger_rows(running: Running) -> list[dict[str, Any]]:
    built = running.app.state.components
    await built.ledger.flush()
    async with built.engine.connect() as connection:
        rows = await connection.execute(select(usage_records).order_by(usage_records.c.id))
        return [dict(r._mapping) for r in rows]


def write_config(directory: Path, *, timeout: float, **routing: Any) -> Path:
    """A config overlay with `timeout` seconds per provider call and retries off; `routing` overrides more of
    the routing section."""
    # One try per request and no breaker tripping: these tests script one upstream failure per request.
    config = {"routing": {"request_timeout_seconds": timeout, "max_retries": 0,
                          "circuit_breaker": {"failures": 1000, "cooldown_seconds": 1}, **routing}}
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def gateway_timeout() -> float:
    """Seconds a provider call may take; a test overrides this fixture to exercise timeouts."""
    return 10.0


@pytest.fixture
async def gateway(
    make_settings: SettingsFactory, fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, tmp_path: Path,
    gateway_timeout: float,
) -> AsyncIterator[Gateway]:
    settings = make_settings(
        OPENAI_API_KEY=fake_openai.api_key, OPENAI_BASE_URL=fake_openai.base_url,
        ANTHROPIC_API_KEY=fake_anthropic.api_key, ANTHROPIC_BASE_URL=fake_anthropic.url,
        ASAHI_CONFIG=str(write_config(tmp_path, timeout=gateway_timeout)),
    )
    running, stop = await start(settings)
    try:
        org = await running.signup()
        yield Gateway(running, org["api_key"], fake_openai, fake_anthropic)
    finally:
        await stop()


def sse_data(text: str) -> list[Any]:
    """The JSON payloads of an OpenAI-style stream, `[DONE]` kept as the string."""
    return [line[6:] if line == "data: [DONE]" else orjson.loads(line[6:])
            for line in text.splitlines() if line.startswith("data: ")]


def sse_events(text: str) -> list[tuple[str, Any]]:
    """(event name, JSON payload) pairs of an Anthropic-style stream."""
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], orjson.loads(lines["data"])))
    return events
