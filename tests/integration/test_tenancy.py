"""Tier 1 is per org: an answer cached for one org is never served to another, streamed or not."""

from __future__ import annotations

import pytest

from tests.integration.conftest import CLAUDE, GPT, Gateway


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", [GPT, CLAUDE])
async def test_another_orgs_cached_answer_is_never_served(gateway: Gateway, model: str, stream: bool) -> None:
    other = (await gateway.running.signup())["api_key"]
    fake = gateway.anthropic if model == CLAUDE else gateway.openai
    body = {"model": model, "messages": [{"role": "user", "content": "Same question"}], "stream": stream}
    seen = []
    for key in (gateway.key, gateway.key, other, other):
        response = await gateway.running.client.post(
            "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200, response.text
        seen.append((response.headers["x-asahi-cache"], len(fake.requests)))
    assert seen == [("miss", 1), ("t1", 1), ("miss", 2), ("t1", 2)]


async def test_answers_under_dated_model_names_still_hit_for_an_org_with_allowed_models(gateway: Gateway) -> None:
    from tests.fakes.server import Reply

    await gateway.running.client.put("/governance/policy", headers=gateway.headers, json={"allowed_models": [GPT]})
    gateway.openai.script(Reply(text="dated", model=f"{GPT}-2024-07-18"))
    body = {"model": GPT, "messages": [{"role": "user", "content": "dated names"}]}
    first = await gateway.post("/v1/chat/completions", body)
    second = await gateway.post("/v1/chat/completions", body)
    assert first.json()["model"] == f"{GPT}-2024-07-18"
    assert (first.headers["x-asahi-cache"], second.headers["x-asahi-cache"]) == ("miss", "t1")
