"""Cascade mode on the live path: opted into per request or per org, a routed word problem goes to the cheap model
first; with no evidence yet the cheap answer is checked and escalated (its call booked as verification, the pair a
label); once the org's labels say such answers are safe, the cheap answer is served, streamed after its check."""

from __future__ import annotations

from typing import Any

import pytest

from asahi.routing.learned import FAMILIES
from tests.fakes.server import Reply
from tests.integration.conftest import Gateway, ledger_rows

PROBLEM = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
           "How many clips did Natalia sell altogether in April and May?")
WORKED = "In May she sold 48 / 2 = 24 clips. Altogether she sold 48 + 24 = 72 clips. The answer is 72."
WORD_PROBLEM = FAMILIES.index("word_problem")


class NeverSample:
    """A random source that never draws below any probability: no routing label, no shadow of a kept answer."""

    @staticmethod
    def random() -> float:
        return 1.0


def quiet(gateway: Gateway) -> None:
    components = gateway.running.app.state.components
    components.router._rng = NeverSample()
    components.pipeline._cascade._rng = NeverSample()


async def org_of(gateway: Gateway) -> str:
    keys = (await gateway.running.client.get("/governance/api-keys", headers=gateway.headers)).json()
    return str(keys[0]["org_id"])


async def ask(gateway: Gateway, cascade: str | None = "on", stream: bool = False, text: str = PROBLEM) -> Any:
    body: dict[str, Any] = {"model": "asahi/auto", "messages": [{"role": "user", "content": text}]}
    if stream:
        body["stream"] = True
    headers = {"x-asahi-cache": "no-cache"} | ({"x-asahi-cascade": cascade} if cascade is not None else {})
    return await gateway.post("/v1/chat/completions", body, **headers)


def trust_cheap_answers(gateway: Gateway, org_id: str) -> None:
    """Give the org labels saying checked cheap answers lost nothing, as escalations would have taught it."""
    calibration = gateway.running.app.state.components.verifier.online.cascade(org_id, WORD_PROBLEM)
    for i in range(400):
        score = (i % 100) / 100
        calibration.traffic.append(score)
        calibration.record(score, 0.0)


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_without_evidence_the_cheap_answer_is_checked_then_escalated(gateway: Gateway) -> None:
    quiet(gateway)
    org_id = await org_of(gateway)
    gateway.openai.script(Reply(text="She sold 48 + 12 = 60 clips. The answer is 60."), Reply(text=WORKED))
    response = await ask(gateway)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == WORKED
    sent = [r.body["model"] for r in gateway.openai.requests]
    assert len(sent) == 2 and sent[1] == response.headers["x-asahi-model"] != sent[0]
    rows = await ledger_rows(gateway.running)
    check = [r for r in rows if r["saving_cause"] == "routing_verification"]
    served = [r for r in rows if r["saving_cause"] != "routing_verification"]
    assert len(check) == 1 and check[0]["model_used"] == sent[0] and check[0]["saved_usd"] == -check[0]["cost_usd"]
    assert len(served) == 1 and "cascade: escalated" in served[0]["routing_reason"]
    labels = gateway.running.app.state.components.verifier.online.cascade(org_id, WORD_PROBLEM)
    assert labels.losses == [1.0]  # 60 against 72: the cheap answer would have been wrong


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_with_evidence_a_checked_cheap_answer_is_served_and_streamed_after_the_check(
    gateway: Gateway,
) -> None:
    quiet(gateway)
    trust_cheap_answers(gateway, await org_of(gateway))
    gateway.openai.script(Reply(text=WORKED))
    response = await ask(gateway)
    assert response.status_code == 200, response.text
    cheap = gateway.openai.requests[0].body["model"]
    assert len(gateway.openai.requests) == 1 and response.headers["x-asahi-model"] == cheap
    assert float(response.headers["x-asahi-saved-usd"]) > 0
    gateway.openai.reset()
    gateway.openai.script(Reply(text=WORKED))
    streamed = await ask(gateway, stream=True)
    assert streamed.status_code == 200 and "text/event-stream" in streamed.headers["content-type"]
    assert "72" in streamed.text and streamed.text.rstrip().endswith("data: [DONE]")
    assert [bool(r.body.get("stream")) for r in gateway.openai.requests] == [False]  # checked before a byte went out
    rows = await ledger_rows(gateway.running)
    assert all("check passed" in r["routing_reason"] for r in rows)


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_cascade_is_opt_in_per_request_or_per_org(gateway: Gateway) -> None:
    quiet(gateway)
    plain = await ask(gateway, cascade=None)
    assert plain.status_code == 200 and len(gateway.openai.requests) == 1  # the router's strong model alone
    assert "cascade" not in (await ledger_rows(gateway.running))[-1]["routing_reason"]
    policy = await gateway.running.client.put("/governance/policy", json={"cascade": True}, headers=gateway.headers)
    assert policy.status_code == 200, policy.text
    gateway.openai.reset()
    gateway.openai.script(Reply(text="The answer is 60."), Reply(text=WORKED))
    assert (await ask(gateway, cascade=None)).status_code == 200
    assert len(gateway.openai.requests) == 2
    gateway.openai.reset()
    assert (await ask(gateway, cascade="off")).status_code == 200 and len(gateway.openai.requests) == 1


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_only_word_problems_cascade_and_a_bad_switch_is_a_400(gateway: Gateway) -> None:
    quiet(gateway)
    other = await ask(gateway, text="Write a short poem about the sea.")
    assert other.status_code == 200 and len(gateway.openai.requests) == 1
    bad = await ask(gateway, cascade="maybe")
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "x-asahi-cascade"
