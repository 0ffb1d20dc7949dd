"""Budgets through the gateway: a hard budget is never overspent under concurrency, holds of dead requests are
given back, each surface refuses in its own shape, and the counters agree with the ledger."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from redis import asyncio as redis
from sqlalchemy import func, select

from asahi.call import Call
from asahi.domain import ChatRequest, Message, TextPart
from asahi.store.tables import usage_records
from tests.conftest import Running, SettingsFactory, start
from tests.notify.test_welcome_email import Sink, run_sink

SIM = "asahi-sim-gpt-4o-mini"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def chat(content: str, **extra: object) -> dict[str, Any]:
    return {"model": SIM, "messages": [{"role": "user", "content": content}], "max_tokens": 64, **extra}


def slow_config(directory: Path, latency_ms: float) -> str:
    """The simulated provider takes `latency_ms`; budget webhooks may reach this machine (the test's receiver)."""
    path = directory / "slow.yaml"
    path.write_text(yaml.safe_dump({"simulator": {"latency_ms": latency_ms}, "notify": {"private_webhooks": True}}))
    return str(path)


@pytest.fixture
async def slow(make_settings: SettingsFactory, tmp_path: Path) -> AsyncIterator[Running]:
    """A gateway whose simulated provider takes 50 ms, so concurrent requests overlap."""
    instance, stop = await start(make_settings(ASAHI_ADMIN_SECRET="test-admin-secret",
                                               ASAHI_CONFIG=slow_config(tmp_path, 50)))
    try:
        yield instance
    finally:
        await stop()


async def set_budgets(running: Running, key: str, budgets: list[dict[str, Any]]) -> None:
    response = await running.client.put("/governance/policy", json={"budgets": budgets}, headers=bearer(key))
    assert response.status_code == 200, response.text


async def ledger_spent(running: Running, org_id: str) -> float:
    built = running.app.state.components
    await built.ledger.flush()
    async with built.engine.connect() as connection:
        total = await connection.execute(
            select(func.coalesce(func.sum(usage_records.c.cost_usd), 0.0)).where(usage_records.c.org_id == org_id))
        return float(total.scalar_one())


async def budgets_of(running: Running, key: str) -> list[dict[str, Any]]:
    await running.app.state.components.pipeline.settled()
    response = await running.client.get("/governance/budgets", headers=bearer(key))
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def test_64_concurrent_requests_never_take_spend_past_a_hard_budget(slow: Running) -> None:
    org = await slow.signup()
    limit = 0.0004  # a few requests' worth: most of the 64 must be refused
    await set_budgets(slow, org["api_key"], [{"limit_usd": limit, "window": "day", "hard": True}])
    responses = await asyncio.gather(*[
        slow.client.post("/v1/chat/completions", json=chat(f"question number {i}"), headers=bearer(org["api_key"]))
        for i in range(64)
    ])
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) >= 1 and statuses.count(429) >= 1 and set(statuses) == {200, 429}
    spent = await ledger_spent(slow, org["org_id"])
    assert 0 < spent <= limit
    [budget] = await budgets_of(slow, org["api_key"])
    assert budget["scope"] == "org" and budget["window"] == "day" and budget["hard"] is True
    assert budget["limit_usd"] == limit and budget["reserved_usd"] == 0
    assert budget["spent_usd"] == pytest.approx(spent, abs=1e-9)
    assert budget["resets_at"].endswith("+00:00")


@contextlib.asynccontextmanager
async def webhook_receiver() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A local HTTP endpoint recording what is POSTed to it."""
    received: list[dict[str, Any]] = []

    async def record(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/hook", received
    finally:
        await runner.cleanup()


async def test_a_soft_budget_lets_requests_through_and_alerts_once_per_threshold(slow: Running) -> None:
    org = await slow.signup()
    async with webhook_receiver() as (url, received):
        response = await slow.client.put("/governance/policy", headers=bearer(org["api_key"]), json={
            "budgets": [{"limit_usd": 0.00005, "window": "month", "hard": False}], "alert_webhook_url": url})
        assert response.status_code == 200
        for i in range(6):
            response = await slow.client.post("/v1/chat/completions", json=chat(f"soft {i}"),
                                              headers=bearer(org["api_key"]))
            assert response.status_code == 200
        built = slow.app.state.components
        await built.pipeline.settled()
    assert sorted(a["threshold_percent"] for a in received) == [50, 80, 100]
    assert {a["scope"] for a in received} == {"org"} and all(a["hard"] is False for a in received)
    assert received[-1]["spent_usd"] >= received[-1]["limit_usd"]
    [budget] = await budgets_of(slow, org["api_key"])
    assert budget["spent_usd"] > budget["limit_usd"] and budget["hard"] is False


async def test_budget_alerts_are_mailed_to_the_org_once_per_threshold(make_settings: SettingsFactory) -> None:
    for sink, port in run_sink(Sink()):
        instance, stop = await start(make_settings(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port),
                                                   SMTP_STARTTLS="false", ASAHI_FROM_EMAIL="asahi@example.com"))
        try:
            org = await instance.signup()
            await set_budgets(instance, org["api_key"], [{"limit_usd": 0.00001, "window": "day", "hard": False}])
            for i in range(3):  # the first crosses every threshold; the next ones must not alert again
                response = await instance.client.post("/v1/chat/completions", json=chat(f"mailed {i}"),
                                                      headers=bearer(org["api_key"]))
                assert response.status_code == 200
            await instance.app.state.components.pipeline.settled()
        finally:
            await stop()
        subjects = sorted(str(message_from_bytes(e.content)["Subject"]) for e in sink.envelopes
                          if isinstance(e.content, bytes))
        alerts = [s for s in subjects if s.startswith("Asahi budget at")]
        assert alerts == [f"Asahi budget at {t}%: org day budget" for t in (100, 50, 80)]
        assert all(e.rcpt_tos == ["owner@example.com"] for e in sink.envelopes)


async def test_a_webhook_into_the_gateways_own_network_is_not_called(running: Running) -> None:
    org = await running.signup()
    async with webhook_receiver() as (url, received):
        await running.client.put("/governance/policy", headers=bearer(org["api_key"]), json={
            "budgets": [{"limit_usd": 0.00001, "window": "day", "hard": False}], "alert_webhook_url": url})
        assert (await running.client.post("/v1/chat/completions", json=chat("ssrf"),
                                          headers=bearer(org["api_key"]))).status_code == 200
        built = running.app.state.components
        await built.pipeline.settled()
        assert sorted(a.threshold for a in built.budgets._alerts.sent) == [50, 80, 100]  # recorded, mailed
    assert received == []


@pytest.mark.parametrize("surface", ["openai", "anthropic", "native"])
async def test_a_refusal_names_the_budget_in_the_surfaces_own_shape(running: Running, surface: str) -> None:
    org = await running.signup()
    await set_budgets(running, org["api_key"], [{"limit_usd": 0.000001, "window": "7d"}])
    headers = bearer(org["api_key"])
    if surface == "openai":
        response = await running.client.post("/v1/chat/completions", json=chat("hi"), headers=headers)
        error = response.json()["error"]
        assert error["code"] == "budget_exceeded" and error["type"] == "rate_limit_error"
    elif surface == "anthropic":
        response = await running.client.post("/v1/messages", json=chat("hi"), headers=headers)
        body = response.json()
        assert body["type"] == "error"
        error = body["error"]
        assert error["type"] == "budget_exceeded"
    else:
        response = await running.client.post("/infer", json={"prompt": "hi", "model_override": SIM},
                                             headers=headers)
        error = response.json()["error"]
        assert error["code"] == "budget_exceeded"
    assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
    budget = error["budget"]
    assert budget["window"] == "7d" and budget["scope"] == "org" and budget["limit_usd"] == 0.000001
    assert budget["spent_usd"] == 0 and budget["resets_at"]
    assert "7d budget" in error["message"]


async def test_a_cache_hit_is_free_and_passes_an_exhausted_budget(running: Running) -> None:
    org = await running.signup()
    first = await running.client.post("/v1/chat/completions", json=chat("cached"), headers=bearer(org["api_key"]))
    assert first.status_code == 200
    await set_budgets(running, org["api_key"], [{"limit_usd": 0.000001, "window": "day"}])
    again = await running.client.post("/v1/chat/completions", json=chat("cached"), headers=bearer(org["api_key"]))
    assert again.status_code == 200 and again.headers["x-asahi-cache"] == "t1"
    other = await running.client.post("/v1/chat/completions", json=chat("not cached"),
                                      headers=bearer(org["api_key"]))
    assert other.status_code == 429


async def test_a_key_budget_refuses_that_key_only(running: Running) -> None:
    org = await running.signup()
    admin = bearer(org["api_key"])
    created = await running.client.post("/governance/api-keys", headers=admin, json={
        "name": "capped", "scopes": ["infer"], "budgets": [{"limit_usd": 0.000001, "window": "day"}]})
    assert created.status_code == 201, created.text
    capped = created.json()
    assert capped["budgets"] == [{"limit_usd": 0.000001, "window": "day", "hard": True}]
    refused = await running.client.post("/v1/chat/completions", json=chat("x"), headers=bearer(capped["api_key"]))
    assert refused.status_code == 429 and refused.json()["error"]["budget"]["scope"] == "key"
    assert refused.json()["error"]["budget"]["id"] == capped["id"]
    assert (await running.client.post("/v1/chat/completions", json=chat("x"), headers=admin)).status_code == 200
    raised = await running.client.patch(f"/governance/api-keys/{capped['id']}", headers=admin,
                                        json={"budgets": [{"limit_usd": 5, "window": "day"}]})
    assert raised.status_code == 200 and raised.json()["budgets"][0]["limit_usd"] == 5
    allowed = await running.client.post("/v1/chat/completions", json=chat("y"), headers=bearer(capped["api_key"]))
    assert allowed.status_code == 200
    listed = await budgets_of(running, org["api_key"])
    assert [(b["scope"], b["id"]) for b in listed] == [("key", capped["id"])]


async def test_cancelled_requests_give_their_holds_back(make_settings: SettingsFactory, tmp_path: Path) -> None:
    running, stop = await start(make_settings(ASAHI_CONFIG=slow_config(tmp_path, 2000)))
    try:
        org = await running.signup()
        await set_budgets(running, org["api_key"], [{"limit_usd": 1.0, "window": "day"}])
        tasks = [asyncio.create_task(running.client.post(
            "/v1/chat/completions", json=chat(f"cancel {i}"), headers=bearer(org["api_key"]))) for i in range(8)]
        async with asyncio.timeout(5):
            for _ in range(500):  # until the holds are taken; the provider then takes 2 s
                if (await budgets_of(running, org["api_key"]))[0]["reserved_usd"] > 0:
                    break
                await asyncio.sleep(0.01)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        [budget] = await budgets_of(running, org["api_key"])
        # Nothing stays held; what is spent is what the ledger has (nothing, unless a request beat the cancel).
        assert budget["reserved_usd"] == 0
        assert budget["spent_usd"] == pytest.approx(await ledger_spent(running, org["org_id"]), abs=1e-9)
    finally:
        await stop()


@pytest.mark.parametrize("budgets", [
    [{"limit_usd": 0, "window": "day"}],
    [{"limit_usd": 1, "window": "week"}],
    [{"limit_usd": 1, "window": "0d"}],
    [{"limit_usd": 1, "window": "day"}, {"limit_usd": 2, "window": "day"}],
])
async def test_invalid_budgets_are_refused_with_400(running: Running, budgets: list[dict[str, Any]]) -> None:
    org = await running.signup()
    response = await running.client.put("/governance/policy", json={"budgets": budgets},
                                        headers=bearer(org["api_key"]))
    assert response.status_code == 400 and response.json()["error"]["param"].startswith("budgets")


@pytest.mark.parametrize("with_redis", [True, False], ids=["redis", "database"])
async def test_two_instances_sharing_postgres_never_overspend_together(
    backend: str, make_settings: SettingsFactory, tmp_path: Path, with_redis: bool,
) -> None:
    """Redis's script, or PostgreSQL's row locks without it, hold the limit across instances."""
    if backend != "postgres":
        pytest.skip("two instances share PostgreSQL (and Redis)")
    overrides = {"ASAHI_CONFIG": slow_config(tmp_path, 50)} | ({} if with_redis else {"REDIS_URL": ""})
    first, stop_first = await start(make_settings(**overrides))
    second, stop_second = await start(make_settings(**overrides))
    try:
        org = await first.signup()
        limit = 0.0004
        await set_budgets(first, org["api_key"], [{"limit_usd": limit, "window": "day"}])
        responses = await asyncio.gather(*[
            (first if i % 2 else second).client.post(
                "/v1/chat/completions", json=chat(f"two instances {i}"), headers=bearer(org["api_key"]))
            for i in range(64)
        ])
        statuses = [r.status_code for r in responses]
        assert statuses.count(200) >= 1 and statuses.count(429) >= 1 and set(statuses) == {200, 429}
        await second.app.state.components.ledger.flush()
        assert 0 < await ledger_spent(first, org["org_id"]) <= limit
    finally:
        await stop_first()
        await stop_second()


async def test_counters_rebuilt_after_redis_is_flushed_match_the_ledger(backend: str, running: Running) -> None:
    if backend != "postgres":
        pytest.skip("needs Redis")
    org = await running.signup()
    await set_budgets(running, org["api_key"], [{"limit_usd": 10, "window": "month"}])
    for i in range(5):
        assert (await running.client.post("/v1/chat/completions", json=chat(f"flush {i}"),
                                          headers=bearer(org["api_key"]))).status_code == 200
    before = (await budgets_of(running, org["api_key"]))[0]["spent_usd"]
    spent = await ledger_spent(running, org["org_id"])
    assert before == pytest.approx(spent, abs=1e-9)
    client = running.app.state.components.redis.client
    await client.flushdb()
    after = (await budgets_of(running, org["api_key"]))[0]
    assert round(after["spent_usd"], 2) == round(spent, 2) and after["spent_usd"] == pytest.approx(spent, abs=1e-9)
    assert after["reserved_usd"] == 0
    assert (await running.client.post("/v1/chat/completions", json=chat("after the flush"),
                                      headers=bearer(org["api_key"]))).status_code == 200
    assert (await budgets_of(running, org["api_key"]))[0]["spent_usd"] == pytest.approx(
        await ledger_spent(running, org["org_id"]), abs=1e-9)


async def test_counters_start_from_the_ledger_after_a_restart(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    first, stop = await start(settings)
    try:
        org = await first.signup()
        await set_budgets(first, org["api_key"], [{"limit_usd": 10, "window": "month"}])
        for i in range(3):
            assert (await first.client.post("/v1/chat/completions", json=chat(f"restart {i}"),
                                             headers=bearer(org["api_key"]))).status_code == 200
        spent = await ledger_spent(first, org["org_id"])
    finally:
        await stop()
    if settings.redis_url is not None:  # Redis lost its counters meanwhile (a restart without persistence)
        client = redis.from_url(settings.redis_url)
        await client.flushdb()
        await client.aclose()
    second, stop = await start(settings)
    try:
        [budget] = await budgets_of(second, org["api_key"])
        assert budget["spent_usd"] == pytest.approx(spent, abs=1e-9) and budget["reserved_usd"] == 0
    finally:
        await stop()


async def test_a_stream_dropped_before_it_started_gives_its_hold_back(running: Running) -> None:
    org = await running.signup()
    await set_budgets(running, org["api_key"], [{"limit_usd": 1.0, "window": "day"}])
    built = running.app.state.components
    key = await built.auth.authenticate(org["api_key"])
    request = ChatRequest(model=SIM, messages=[Message("user", [TextPart("never read")])], stream=True)
    outcome = await built.pipeline.run(Call("req_dropped", "openai", key, request))
    assert outcome.events is not None and (await budgets_of(running, org["api_key"]))[0]["reserved_usd"] > 0
    del outcome
    gc.collect()
    [budget] = await budgets_of(running, org["api_key"])
    assert budget["reserved_usd"] == 0


async def test_a_rolling_window_counts_the_days_before_today_from_the_ledger(running: Running) -> None:
    org = await running.signup()
    built = running.app.state.components
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    async with built.engine.begin() as connection:
        for n, (days_ago, usd) in enumerate([(1, 0.004), (2, 0.5)]):  # yesterday is in a 2d window, not the day before
            await connection.execute(usage_records.insert().values(
                request_id=f"req_past_{org['org_id'][:8]}_{n}", org_id=org["org_id"], key_id=org["key_id"],
                surface="openai", cost_usd=usd, status=200, created_at=today - timedelta(days=days_ago, hours=-1)))
    await set_budgets(running, org["api_key"], [{"limit_usd": 0.00405, "window": "2d"}])
    [budget] = await budgets_of(running, org["api_key"])
    assert budget["spent_usd"] == pytest.approx(0.004, abs=1e-9)
    assert budget["period_start"] == (today - timedelta(days=1)).isoformat()
    assert budget["resets_at"] == (today + timedelta(days=1)).isoformat()  # when yesterday drops out
    # 0.00005 left in the window: a request whose worst case is more is refused, a smaller one goes through.
    refused = await running.client.post("/v1/chat/completions", json=chat("rolling", max_tokens=200),
                                        headers=bearer(org["api_key"]))
    assert refused.status_code == 429 and refused.json()["error"]["budget"]["spent_usd"] == pytest.approx(0.004)
    small = await running.client.post("/v1/chat/completions", json=chat("rolling", max_tokens=20),
                                      headers=bearer(org["api_key"]))
    assert small.status_code == 200
