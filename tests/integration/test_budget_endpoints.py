"""Budgets hold on the endpoints beside chat too: legacy completions and embeddings reserve their worst case
before the provider is called, and settle to what it cost."""

from __future__ import annotations

from tests.integration.conftest import Gateway


async def set_budget(gateway: Gateway, limit: float) -> None:
    response = await gateway.running.client.put("/governance/policy", headers=gateway.headers,
                                                json={"budgets": [{"limit_usd": limit, "window": "day"}]})
    assert response.status_code == 200, response.text


async def test_legacy_completions_are_refused_past_a_hard_budget(gateway: Gateway) -> None:
    await set_budget(gateway, 0.00001)
    body = {"model": "gpt-3.5-turbo-instruct", "prompt": "Say hi", "max_tokens": 100}
    refused = await gateway.post("/v1/completions", body)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "budget_exceeded"
    assert not any(r.path.endswith("/completions") for r in gateway.openai.requests)
    small = await gateway.post("/v1/completions", {**body, "max_tokens": 2})
    assert small.status_code == 200, small.text


async def test_embeddings_are_refused_past_a_hard_budget_and_settle_to_their_cost(gateway: Gateway) -> None:
    await set_budget(gateway, 0.0000001)
    refused = await gateway.post("/v1/embeddings", {"model": "text-embedding-3-small", "input": ["word " * 50]})
    assert refused.status_code == 429 and refused.json()["error"]["budget"]["window"] == "day"
    assert not gateway.openai.requests
    allowed = await gateway.post("/v1/embeddings", {"model": "text-embedding-3-small", "input": "hi"})
    assert allowed.status_code == 200, allowed.text
    await gateway.running.app.state.components.pipeline.settled()
    [budget] = (await gateway.running.client.get("/governance/budgets", headers=gateway.headers)).json()["data"]
    rows = await gateway.ledger()
    assert budget["reserved_usd"] == 0
    assert budget["spent_usd"] == round(sum(r["cost_usd"] or 0 for r in rows), 9)
