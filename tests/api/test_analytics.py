from __future__ import annotations

import pytest

from tests.conftest import Running


async def test_usage_sums_the_orgs_ledger_only(running: Running) -> None:
    mine, other = await running.signup(), await running.signup()
    body = {"model": "asahi-sim-gpt-4o-mini", "messages": [{"role": "user", "content": "count me"}]}
    for org in (mine, mine, other):
        await running.client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {org['api_key']}"})
    await running.app.state.components.ledger.flush()
    report = (await running.client.get("/analytics/usage", headers={"Authorization": f"Bearer {mine['api_key']}"})).json()
    assert report["total"]["requests"] == 2
    assert report["by_cause"]["tier1"]["requests"] == 1
    assert report["by_cause"]["tier1"]["saved_usd"] == pytest.approx(report["by_cause"]["none"]["cost_usd"])
    assert set(report["by_model"]) == {"asahi-sim-gpt-4o-mini"}


async def test_usage_needs_the_analytics_scope(running: Running) -> None:
    org = await running.signup()
    infer_key = (await running.client.post(
        "/governance/api-keys", headers={"Authorization": f"Bearer {org['api_key']}"},
        json={"name": "svc", "scopes": ["infer"]},
    )).json()["api_key"]
    response = await running.client.get("/analytics/usage", headers={"Authorization": f"Bearer {infer_key}"})
    assert response.status_code == 403
    assert (await running.client.get("/analytics/usage")).status_code == 401
