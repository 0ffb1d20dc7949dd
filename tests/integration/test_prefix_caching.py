"""Tier 3 end to end: a long shared prompt goes upstream so the provider's own prompt cache applies.

Anthropic gets a `cache_control` breakpoint at the end of a long system prompt; OpenAI gets a
`prompt_cache_key` that is the same for one org's requests on that prompt and differs between orgs. Short
prompts go out untouched.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import CLAUDE, GPT, Gateway

LONG_SYSTEM = "You are the support agent of Example Corp. Follow the returns policy to the letter. " * 160
EPHEMERAL = {"type": "ephemeral"}


def anthropic_body(system: str, question: str, *, stream: bool) -> dict[str, Any]:
    return {"model": CLAUDE, "max_tokens": 100, "stream": stream, "system": system,
            "messages": [{"role": "user", "content": question}]}


def openai_body(system: str, question: str, *, stream: bool) -> dict[str, Any]:
    return {"model": GPT, "stream": stream,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": question}]}


@pytest.mark.parametrize("stream", [False, True])
async def test_anthropic_gets_a_breakpoint_after_a_long_system_prompt(gateway: Gateway, stream: bool) -> None:
    response = await gateway.post("/v1/messages", anthropic_body(LONG_SYSTEM, "Where is my order?", stream=stream))
    assert response.status_code == 200, response.text
    sent = gateway.anthropic.last.body
    assert sent["system"] == [{"type": "text", "text": LONG_SYSTEM, "cache_control": EPHEMERAL}]
    assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Where is my order?"}]}]

    await gateway.post("/v1/messages", anthropic_body("Be brief.", "Where is my order?", stream=stream))
    assert gateway.anthropic.last.body["system"] == [{"type": "text", "text": "Be brief."}]


@pytest.mark.parametrize("stream", [False, True])
async def test_openai_gets_one_prompt_cache_key_per_org_and_prompt(gateway: Gateway, stream: bool) -> None:
    keys = []
    for question in ("Where is my order?", "Can I return a gift?"):
        response = await gateway.post("/v1/chat/completions", openai_body(LONG_SYSTEM, question, stream=stream))
        assert response.status_code == 200, response.text
        keys.append(gateway.openai.last.body["prompt_cache_key"])
    assert keys[0] == keys[1] and keys[0].startswith("asahi-")

    other = (await gateway.running.signup())["api_key"]
    await gateway.running.client.post("/v1/chat/completions", json=openai_body(LONG_SYSTEM, "Hi", stream=stream),
                                      headers={"Authorization": f"Bearer {other}"})
    assert gateway.openai.last.body["prompt_cache_key"] not in keys

    await gateway.post("/v1/chat/completions", openai_body("Be brief.", "Where is my order?", stream=stream))
    assert "prompt_cache_key" not in gateway.openai.last.body
