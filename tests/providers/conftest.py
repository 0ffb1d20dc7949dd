"""Fake provider servers shared by the provider tests: started once, their scripts reset per test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from asahi.providers.anthropic.adapter import AnthropicProvider
from asahi.providers.openai.adapter import OpenAIProvider
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
async def openai_provider(fake_openai: FakeOpenAI) -> AsyncIterator[OpenAIProvider]:
    provider = OpenAIProvider(fake_openai.api_key, base_url=fake_openai.base_url, timeout=2.0)
    yield provider
    await provider.aclose()


@pytest.fixture
async def anthropic_provider(fake_anthropic: FakeAnthropic) -> AsyncIterator[AnthropicProvider]:
    provider = AnthropicProvider(fake_anthropic.api_key, base_url=fake_anthropic.url, timeout=2.0)
    yield provider
    await provider.aclose()
