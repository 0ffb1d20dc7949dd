"""The audit log: every change and refusal recorded with who, when, from where; no secret or policy in it; rows
chained by hash so `asahi audit verify` reports the first tampered one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select, update

from asahi.cli import main
from asahi.governance import accounts, audit
from asahi.settings import load_settings
from asahi.store import db
from asahi.store.migrate import migrate
from asahi.store.tables import audit_log
from tests.conftest import Running

SIM = "asahi-sim-gpt-4o-mini"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def make_history(running: Running) -> dict[str, str]:
    org = await running.signup()
    admin = bearer(org["api_key"])
    await running.client.put("/governance/policy", headers=admin, json={
        "allowed_models": [SIM], "alert_webhook_url": "https://hooks.example/secret-token",
        "budgets": [{"limit_usd": 0.000001, "window": "day"}]})
    created = (await running.client.post("/governance/api-keys", headers=admin,
                                         json={"name": "k", "scopes": ["infer"]})).json()
    await running.client.patch(f"/governance/api-keys/{created['id']}", headers=admin, json={"requests_per_minute": 9})
    await running.client.delete(f"/governance/api-keys/{created['id']}", headers=admin)
    refused = await running.client.post("/v1/chat/completions", headers=admin,
                                        json={"model": SIM, "messages": [{"role": "user", "content": "hi"}]})
    assert refused.status_code == 429
    await running.app.state.components.pipeline.settled()
    return org


async def test_changes_and_refusals_are_recorded_without_secrets(running: Running) -> None:
    org = await make_history(running)
    response = await running.client.get("/governance/audit", headers=bearer(org["api_key"]))
    assert response.status_code == 200
    rows = response.json()["data"]
    actions = [r["action"] for r in reversed(rows)]
    assert actions == ["org.create", "key.create", "policy.update", "key.create", "key.update", "key.revoke",
                       "budget.refuse"]
    policy_row = next(r for r in rows if r["action"] == "policy.update")
    assert policy_row["details"]["changed"] == ["alert_webhook_url", "allowed_models", "budgets"]
    assert "alert_webhook_url" not in {k for k in policy_row["details"] if k != "changed"}
    for row in rows:
        assert len(row["hash"]) == 64 and row["client"] and row["created_at"] and row["request_id"]
    refusal = rows[0]
    assert refusal["actor"] == f"key:{org['key_id']}" and refusal["request_id"].startswith("req_")
    assert refusal["details"]["window"] == "day"
    everything = orjson.dumps(rows).decode()
    assert "secret-token" not in everything and "asahi_" not in everything


async def test_the_log_is_paginated_and_private_to_its_org(running: Running) -> None:
    org = await make_history(running)
    other = await running.signup()
    first = (await running.client.get("/governance/audit?limit=3", headers=bearer(org["api_key"]))).json()
    assert len(first["data"]) == 3 and first["next_before"] == first["data"][-1]["id"]
    second = (await running.client.get(f"/governance/audit?limit=3&before={first['next_before']}",
                                       headers=bearer(org["api_key"]))).json()
    assert [r["id"] for r in second["data"]] == sorted((r["id"] for r in second["data"]), reverse=True)
    assert max(r["id"] for r in second["data"]) < min(r["id"] for r in first["data"])
    mine = (await running.client.get("/governance/audit", headers=bearer(other["api_key"]))).json()["data"]
    assert {r["org_id"] for r in mine} == {other["org_id"]}
    crossed = await running.client.get(f"/governance/audit?org_id={org['org_id']}", headers=bearer(other["api_key"]))
    assert crossed.status_code == 403
    operator = await running.client.get(f"/governance/audit?org_id={org['org_id']}",
                                        headers={"X-Admin-Secret": "test-admin-secret"})
    assert operator.status_code == 200 and len(operator.json()["data"]) == 7
    infer_only = (await running.client.post("/governance/api-keys", headers=bearer(org["api_key"]),
                                            json={"name": "i", "scopes": ["infer"]})).json()
    assert (await running.client.get("/governance/audit", headers=bearer(infer_only["api_key"]))).status_code == 403


@pytest.mark.parametrize("tamper", ["details", "delete"])
async def test_a_tampered_row_is_reported_by_verify(running: Running, tamper: str) -> None:
    org = await make_history(running)
    engine = running.app.state.components.engine
    assert await audit.verify(engine) is None
    async with engine.begin() as connection:
        ids = (await connection.execute(select(audit_log.c.id).where(audit_log.c.org_id == org["org_id"])
                                        .order_by(audit_log.c.id))).scalars().all()
        victim = ids[3]
        if tamper == "details":
            await connection.execute(update(audit_log).where(audit_log.c.id == victim).values(
                details={"scopes": ["admin"]}))
        else:
            await connection.execute(audit_log.delete().where(audit_log.c.id == victim))
    broken = await audit.verify(engine)
    assert broken is not None and broken.org_id == org["org_id"]
    assert broken.id == (victim if tamper == "details" else ids[4])


def test_asahi_audit_verify_names_the_first_broken_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "ASAHI_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ASAHI_DATA_DIR", str(tmp_path / "asahi"))
    monkeypatch.setenv("ASAHI_LOG_LEVEL", "WARNING")
    settings = load_settings()

    async def history(tamper: bool) -> None:
        engine = db.create_engine(db.database_url(settings))
        try:
            await migrate(engine)
            if tamper:
                async with engine.begin() as connection:
                    await connection.execute(update(audit_log).where(audit_log.c.id == 2).values(actor="someone"))
            else:
                await accounts.create_org_with_key(engine, "acme", "a@example.com", actor="cli")
        finally:
            await engine.dispose()

    asyncio.run(history(tamper=False))
    assert main(["audit", "verify"]) == 0
    assert "intact" in capsys.readouterr().out
    asyncio.run(history(tamper=True))
    assert main(["audit", "verify"]) == 1
    assert "broken at row 2" in capsys.readouterr().out
