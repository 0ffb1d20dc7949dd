from __future__ import annotations

import random

import httpx
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


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def chat(running: Running, key: str, text: str, model: str = "asahi-sim-gpt-4o-mini") -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": text}]}
    return await running.client.post("/v1/chat/completions", json=body, headers=bearer(key))


async def test_usage_has_savings_hit_rates_overhead_and_a_series(running: Running) -> None:
    org = await running.signup()
    for _ in range(3):
        await chat(running, org["api_key"], "same question")
    await running.app.state.components.ledger.flush()
    report = (await running.client.get("/analytics/usage", params={"days": 7, "tz": "Asia/Kolkata"},
                                       headers=bearer(org["api_key"]))).json()
    assert report["cache"]["t1"] == 2 and report["hit_rates"]["t1"] == pytest.approx(2 / 3)
    assert report["savings"]["tier1"] == pytest.approx(report["total"]["saved_usd"])
    assert report["total"]["saved_usd"] > 0
    assert report["overhead_ms"]["p50"] is not None
    assert len(report["series"]) in (7, 8)  # the partial first day included
    assert report["series"][-1]["start"].endswith("+05:30") and report["series"][-1]["requests"] == 3
    hourly = (await running.client.get("/analytics/usage", params={"days": 1, "granularity": "hour"},
                                       headers=bearer(org["api_key"]))).json()
    assert sum(p["cache"]["t1"] for p in hourly["series"]) == 2 and len(hourly["series"]) in (24, 25)


@pytest.mark.parametrize(("params", "param"), [
    ({"days": 60, "granularity": "hour"}, "granularity"),
    ({"tz": "Mars/Olympus"}, "tz"),
    ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since"),
    ({"days": 0}, "days"),
    ({"granularity": "week"}, "granularity"),
])
async def test_bad_usage_queries_name_the_parameter(running: Running, params: dict[str, object], param: str) -> None:
    org = await running.signup()
    response = await running.client.get("/analytics/usage", params=params, headers=bearer(org["api_key"]))
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


async def test_requests_lists_the_orgs_rows_newest_first_with_their_tiers(running: Running) -> None:
    mine, other = await running.signup(), await running.signup()
    first = await chat(running, mine["api_key"], "what is a ledger?")
    second = await chat(running, mine["api_key"], "what is a ledger?")
    await chat(running, other["api_key"], "what is a ledger?")
    await running.app.state.components.ledger.flush()
    listed = (await running.client.get("/analytics/requests", headers=bearer(mine["api_key"]))).json()
    rows = listed["data"]
    assert [r["request_id"] for r in rows] == [second.headers["x-asahi-request-id"],
                                               first.headers["x-asahi-request-id"]]
    assert [r["cache_tier"] for r in rows] == ["t1", "miss"]
    hit = rows[0]
    assert hit["model"] == "asahi-sim-gpt-4o-mini" and hit["key_name"] == "default"
    assert hit["cost_usd"] == 0 and hit["saved_usd"] == pytest.approx(hit["baseline_cost_usd"])
    assert hit["saved_usd"] > 0
    assert hit["latency_ms"] >= 0 and listed["next_cursor"] is None
    only_hits = (await running.client.get("/analytics/requests", params={"cache": "t1"},
                                          headers=bearer(mine["api_key"]))).json()["data"]
    assert [r["request_id"] for r in only_hits] == [hit["request_id"]]
    page = (await running.client.get("/analytics/requests", params={"limit": 1},
                                     headers=bearer(mine["api_key"]))).json()
    rest = (await running.client.get("/analytics/requests", params={"cursor": page["next_cursor"]},
                                     headers=bearer(mine["api_key"]))).json()
    assert [r["request_id"] for r in page["data"] + rest["data"]] == [r["request_id"] for r in rows]
    detail = await running.client.get(f"/analytics/requests/{hit['request_id']}", headers=bearer(mine["api_key"]))
    assert detail.status_code == 200 and detail.json() == hit
    foreign = await running.client.get(f"/analytics/requests/{hit['request_id']}", headers=bearer(other["api_key"]))
    assert foreign.status_code == 404
    facets = (await running.client.get("/analytics/facets", headers=bearer(mine["api_key"]))).json()
    assert facets["models"] == ["asahi-sim-gpt-4o-mini"] and facets["keys"][0]["id"] == mine["key_id"]


@pytest.mark.parametrize(("params", "param"), [({"cache": "t9"}, "cache"), ({"status": "fine"}, "status"),
                                               ({"cursor": "!!"}, "cursor"), ({"limit": 1000}, "limit")])
async def test_bad_request_filters_name_the_parameter(running: Running, params: dict[str, object], param: str) -> None:
    org = await running.signup()
    response = await running.client.get("/analytics/requests", params=params, headers=bearer(org["api_key"]))
    assert response.status_code == 400 and response.json()["error"]["param"] == param


async def test_the_analytics_routes_need_the_analytics_scope(running: Running) -> None:
    org = await running.signup()
    infer_key = (await running.client.post("/governance/api-keys", headers=bearer(org["api_key"]),
                                           json={"name": "svc", "scopes": ["infer"]})).json()["api_key"]
    for path in ("/analytics/requests", "/analytics/requests/req_x", "/analytics/facets", "/analytics/cache"):
        assert (await running.client.get(path, headers=bearer(infer_key))).status_code == 403, path
        assert (await running.client.get(path)).status_code == 401, path


def teach(running: Running, org_id: str) -> None:
    """Labels as verification would give them (right above cosine 0.8), so tier 2 serves paraphrases."""
    tier2 = running.app.state.components.tier2
    tier2.cache.verify_sample_rate = 0.0
    model = tier2.cache.model(org_id)
    rng = random.Random(1)
    for _ in range(400):
        similarity = rng.uniform(0.3, 1.0)
        model.add(similarity, similarity > 0.8)


async def test_cache_report_sets_tier2s_bound_against_feedback(running: Running) -> None:
    org = await running.signup()
    key = org["api_key"]
    empty = (await running.client.get("/analytics/cache", headers=bearer(key))).json()["tier2"]
    assert empty["delta"] == 0.02 and empty["delta_source"] == "default"
    assert empty["feedback"] == {"labelled": 0, "wrong": 0, "rate": None, "rate_upper_95": None}
    teach(running, org["org_id"])
    await chat(running, key, "How do I reset my password?")
    await running.app.state.components.tier2.drain()
    hit = await chat(running, key, "How can I reset my password?")
    assert hit.headers["x-asahi-cache"].startswith("t2")
    told = await running.client.post("/feedback", headers=bearer(key),
                                     json={"request_id": hit.headers["x-asahi-request-id"], "correct": False})
    assert told.status_code == 202
    await running.client.put("/governance/policy", headers=bearer(key), json={"tier2_target_error": 0.05})
    report = (await running.client.get("/analytics/cache", headers=bearer(key))).json()["tier2"]
    assert report["delta"] == 0.05 and report["delta_source"] == "policy"
    assert report["feedback"]["labelled"] == 1 and report["feedback"]["wrong"] == 1
    assert report["labels"] >= 400 and report["estimated_error_rate"] is not None
    await running.app.state.components.ledger.flush()
    row = (await running.client.get(f"/analytics/requests/{hit.headers['x-asahi-request-id']}",
                                    headers=bearer(key))).json()
    assert row["cache_tier"] == "t2" and row["similarity"] > 0.9 and row["feedback"] is False
