"""Retries, fallback chains and the circuit breaker, through the gateway against failing fake providers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import Running, SettingsFactory, start
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.server import Fail, Reply
from tests.integration.conftest import CLAUDE, GPT, write_config


@pytest.fixture
async def resilient(
    make_settings: SettingsFactory, fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> AsyncIterator[tuple[Running, str]]:
    config = write_config(tmp_path, timeout=10, max_retries=1, fallbacks={GPT: [CLAUDE]},
                          circuit_breaker={"failures": 2, "cooldown_seconds": 60})
    running, stop = await start(make_settings(
        OPENAI_API_KEY=fake_openai.api_key, OPENAI_BASE_URL=fake_openai.base_url,
        ANTHROPIC_API_KEY=fake_anthropic.api_key, ANTHROPIC_BASE_URL=fake_anthropic.url, ASAHI_CONFIG=str(config),
    ))
    try:
        yield running, (await running.signup())["api_key"]
    finally:
        await stop()


def chat(content: str, stream: bool = False) -> dict[str, object]:
    return {"model": GPT, "stream": stream, "messages": [{"role": "user", "content": content}]}


async def test_a_429_is_retried_after_its_retry_after(resilient: tuple[Running, str], fake_openai: FakeOpenAI) -> None:
    running, key = resilient
    fake_openai.script(Fail(429, "slow down", headers={"retry-after-ms": "10"}), Reply(text="second time lucky"))
    response = await running.client.post("/v1/chat/completions", json=chat("retry me"),
                                         headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "second time lucky"
    assert len(fake_openai.requests) == 2


@pytest.mark.parametrize("stream", [False, True])
async def test_a_failing_model_falls_back_along_its_chain(
    resilient: tuple[Running, str], fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic, stream: bool
) -> None:
    running, key = resilient
    fake_openai.script(Fail(500, "down"), Fail(500, "still down"))
    fake_anthropic.script(Reply(text="Claude here"))
    response = await running.client.post("/v1/chat/completions", json=chat("fall back", stream),
                                         headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    assert response.headers["x-asahi-model"] == CLAUDE
    assert "Claude here" in response.text
    assert len(fake_openai.requests) == 2 and len(fake_anthropic.requests) == 1


async def test_no_fallback_to_a_model_the_org_does_not_allow(
    resilient: tuple[Running, str], fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    running, key = resilient
    headers = {"Authorization": f"Bearer {key}"}
    await running.client.put("/governance/policy", headers=headers, json={"allowed_models": [GPT]})
    fake_openai.script(Fail(500, "down"), Fail(500, "still down"))
    response = await running.client.post("/v1/chat/completions", json=chat("no way out"), headers=headers)
    assert response.status_code == 502
    assert fake_anthropic.requests == []


async def test_the_breaker_opens_after_repeated_failures(
    resilient: tuple[Running, str], fake_openai: FakeOpenAI, fake_anthropic: FakeAnthropic
) -> None:
    running, key = resilient
    headers = {"Authorization": f"Bearer {key}"}
    fake_openai.script(Fail(503, "a"), Fail(503, "b"))
    fake_anthropic.script(Reply(text="one"), Reply(text="two"))
    first = await running.client.post("/v1/chat/completions", json=chat("first"), headers=headers)
    assert first.headers["x-asahi-model"] == CLAUDE
    calls = len(fake_openai.requests)
    second = await running.client.post("/v1/chat/completions", json=chat("second"), headers=headers)
    assert second.headers["x-asahi-model"] == CLAUDE
    assert len(fake_openai.requests) == calls  # the open breaker skipped the failing model entirely
