"""The operator's endpoints: orgs listed and created, suspended (every key refused, clearly, on every surface)
and resumed, any org's usage; all behind X-Admin-Secret and all in the audit log."""

from __future__ import annotations

import pytest

from tests.conftest import Running

SIM = "asahi-sim-gpt-4o-mini"
OPERATOR = {"X-Admin-Secret": "test-admin-secret"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_the_operator_creates_and_lists_orgs(running: Running) -> None:
    created = await running.client.post("/governance/orgs", headers=OPERATOR,
                                        json={"org_name": "Made By Operator", "email": "ops@example.com"})
    assert created.status_code == 201, created.text
    org = created.json()
    assert org["api_key"].startswith("asahi_") and org["scopes"] == ["admin"]
    listed = (await running.client.get("/governance/orgs", headers=OPERATOR)).json()["data"]
    assert {o["id"]: o["suspended"] for o in listed}[org["org_id"]] is False
    audit = (await running.client.get(f"/governance/audit?org_id={org['org_id']}", headers=OPERATOR)).json()["data"]
    assert [(r["action"], r["actor"]) for r in reversed(audit)] == [("org.create", "admin-secret"),
                                                                   ("key.create", "admin-secret")]
    duplicate = await running.client.post("/governance/orgs", headers=OPERATOR,
                                          json={"org_name": "made by operator", "email": "ops@example.com"})
    assert duplicate.status_code == 409


@pytest.mark.parametrize("path", ["/governance/orgs", "/governance/orgs/x/usage"])
async def test_only_the_operator_may(running: Running, path: str) -> None:
    org = await running.signup()
    assert (await running.client.get(path, headers=bearer(org["api_key"]))).status_code == 403
    assert (await running.client.get(path)).status_code == 401
    assert (await running.client.get(path, headers={"X-Admin-Secret": "wrong"})).status_code == 401


async def test_a_suspended_org_is_refused_everywhere_until_resumed(running: Running) -> None:
    org = await running.signup()
    key = org["api_key"]
    chat = {"model": SIM, "messages": [{"role": "user", "content": "hi"}]}
    assert (await running.client.post("/v1/chat/completions", headers=bearer(key), json=chat)).status_code == 200
    suspended = await running.client.post(f"/governance/orgs/{org['org_id']}/suspend", headers=OPERATOR)
    assert suspended.status_code == 200 and suspended.json()["suspended"] is True
    refused = await running.client.post("/v1/chat/completions", headers=bearer(key), json=chat)  # a cache hit
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "org_suspended"
    anthropic = await running.client.post("/v1/messages", headers={"x-api-key": key},
                                          json={**chat, "max_tokens": 10})
    assert anthropic.status_code == 403 and "suspended" in anthropic.json()["error"]["message"]
    for path in ("/governance/api-keys", "/analytics/usage"):
        response = await running.client.get(path, headers=bearer(key))
        assert response.status_code == 403 and response.json()["error"]["code"] == "org_suspended"
    await running.app.state.components.pipeline.settled()  # refusals are audited off the request path
    resumed = await running.client.post(f"/governance/orgs/{org['org_id']}/resume", headers=OPERATOR)
    assert resumed.json()["suspended"] is False
    assert (await running.client.post("/v1/chat/completions", headers=bearer(key), json=chat)).status_code == 200
    audit = (await running.client.get("/governance/audit", headers=bearer(key))).json()["data"]
    actions = [r["action"] for r in reversed(audit)]
    assert actions[-3:] == ["org.suspend", "org.suspended_refuse", "org.resume"]


async def test_the_operator_sees_any_orgs_usage(running: Running) -> None:
    org = await running.signup()
    chat = {"model": SIM, "messages": [{"role": "user", "content": "usage"}]}
    await running.client.post("/v1/chat/completions", headers=bearer(org["api_key"]), json=chat)
    await running.app.state.components.ledger.flush()
    usage = await running.client.get(f"/governance/orgs/{org['org_id']}/usage?days=1", headers=OPERATOR)
    assert usage.status_code == 200 and usage.json()["total"]["requests"] == 1


async def test_suspending_an_unknown_org_is_404(running: Running) -> None:
    response = await running.client.post("/governance/orgs/nope/suspend", headers=OPERATOR)
    assert response.status_code == 404
