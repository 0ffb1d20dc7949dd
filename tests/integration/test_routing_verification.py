"""Routing verification on the live path: a sampled routed request is answered by the strong model, the cheap
tier answers it off the response path, the comparison becomes a label of the org's calibration, and the extra
call is a cost in the ledger; feedback on a routed answer is a label too; the calibration survives a restart."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from asahi.routing.learned import FAMILIES
from asahi.store.tables import routing_org_models
from tests.conftest import start
from tests.fakes.server import Reply
from tests.integration.conftest import Gateway, ledger_rows

QUESTION = ("Which planet is known as the red planet?\nA. Venus\nB. Mars\nC. Jupiter\nD. Saturn\nAnswer:")


class AlwaysSample:
    """A random source that draws 0: every routed request is sampled for a label."""

    @staticmethod
    def random() -> float:
        return 0.0


async def settle(gateway: Gateway) -> None:
    verifier = gateway.running.app.state.components.verifier
    while verifier._background:
        await asyncio.gather(*verifier._background)


def labels_of(gateway: Gateway, org_id: str) -> int:
    online = gateway.running.app.state.components.router.online
    family = FAMILIES.index("choice")
    return len(online.family(org_id, family).evidence)


async def auto(gateway: Gateway, text: str = QUESTION) -> Any:
    body = {"model": "asahi/auto", "messages": [{"role": "user", "content": text}]}
    return await gateway.post("/v1/chat/completions", body, **{"x-asahi-cache": "no-cache"})


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_sampled_request_is_answered_strong_and_labelled_off_the_path(gateway: Gateway) -> None:
    components = gateway.running.app.state.components
    components.router._rng = AlwaysSample()
    org_id = (await gateway.running.client.get("/governance/api-keys", headers=gateway.headers)).json()[0]["org_id"]
    gateway.openai.script(Reply(text="The answer is (B) Mars."), Reply(text="Answer: B"))
    response = await auto(gateway)
    assert response.status_code == 200, response.text
    strong = response.headers["x-asahi-model"]
    await settle(gateway)
    assert labels_of(gateway, org_id) == 1  # B and B: the cheap answer lost nothing
    sent = [r.body["model"] for r in gateway.openai.requests]
    assert sent[0] == strong and len(sent) == 2 and sent[1] != strong
    rows = await ledger_rows(gateway.running)
    verification = [r for r in rows if r["saving_cause"] == "routing_verification"]
    assert len(verification) == 1 and verification[0]["saved_usd"] == -verification[0]["cost_usd"]
    assert "sampled to verify" in next(r for r in rows if r["saving_cause"] != "routing_verification")[
        "routing_reason"]
    report = (await gateway.running.client.get("/analytics/routing", headers=gateway.headers)).json()
    assert report["online"] is True and report["floor"] == 0.95
    assert [(f["family"], f["labels"], f["routing_open"]) for f in report["families"]] == [("choice", 1, False)]


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_feedback_on_a_routed_answer_is_a_free_label(gateway: Gateway) -> None:
    response = await auto(gateway)
    org_id = (await gateway.running.client.get("/governance/api-keys", headers=gateway.headers)).json()[0]["org_id"]
    before = labels_of(gateway, org_id)
    rid = response.headers["x-asahi-request-id"]
    accepted = await gateway.running.client.post("/feedback", json={"request_id": rid, "correct": False},
                                                 headers=gateway.headers)
    assert accepted.status_code == 202 and labels_of(gateway, org_id) == before + 1
    unknown = await gateway.running.client.post("/feedback", json={"request_id": "req_nope", "correct": True},
                                                headers=gateway.headers)
    assert unknown.status_code == 404


async def test_the_calibration_is_saved_and_loaded_at_start(gateway: Gateway, make_settings: Any) -> None:
    components = gateway.running.app.state.components
    components.router._rng = AlwaysSample()
    org_id = (await gateway.running.client.get("/governance/api-keys", headers=gateway.headers)).json()[0]["org_id"]
    gateway.openai.script(Reply(text="Answer: B"), Reply(text="Answer: C"))
    await auto(gateway)
    await settle(gateway)
    await components.verifier.save()
    async with components.engine.connect() as connection:
        saved = (await connection.execute(select(routing_org_models.c.org_id))).scalars().all()
    assert org_id in saved
    again, stop = await start(gateway.running.app.state.components.settings)
    try:
        family = FAMILIES.index("choice")
        assert len(again.app.state.components.router.online.family(org_id, family).evidence) == 1
    finally:
        await stop()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_verification_call_counts_against_the_budgets_as_the_ledger_does(gateway: Gateway) -> None:
    components = gateway.running.app.state.components
    components.router._rng = AlwaysSample()
    await gateway.running.client.put("/governance/policy", headers=gateway.headers,
                                     json={"budgets": [{"limit_usd": 5, "window": "day"}]})
    gateway.openai.script(Reply(text="The answer is (B) Mars."), Reply(text="Answer: B"))
    assert (await auto(gateway)).status_code == 200
    await settle(gateway)
    await components.pipeline.settled()
    rows = await ledger_rows(gateway.running)
    assert any(r["saving_cause"] == "routing_verification" for r in rows)
    [budget] = (await gateway.running.client.get("/governance/budgets", headers=gateway.headers)).json()["data"]
    assert budget["spent_usd"] == pytest.approx(sum(r["cost_usd"] for r in rows), abs=1e-9)
