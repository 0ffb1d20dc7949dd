from __future__ import annotations

import pytest

from tests.conftest import Running


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_infer_reports_cost_baseline_and_saving(running: Running) -> None:
    org = await running.signup()
    first = await running.client.post("/infer", json={"prompt": "Explain HTTP caching"}, headers=bearer(org["api_key"]))
    assert first.status_code == 200, first.text
    body = first.json()
    expected = {"request_id", "response", "model_used", "tokens_input", "tokens_output", "cost", "cost_original",
                "cost_saved", "cache_hit", "cache_tier", "latency_ms", "routing_reason"}
    assert expected <= set(body)
    assert body["cache_hit"] is False and body["cache_tier"] == 0 and body["cost"] > 0
    assert body["cost_original"] >= body["cost"]
    second = (await running.client.post(
        "/infer", json={"prompt": "Explain HTTP caching"}, headers=bearer(org["api_key"])
    )).json()
    assert second["cache_hit"] is True and second["cache_tier"] == 1
    assert second["cost"] == 0 and second["cost_saved"] == pytest.approx(second["cost_original"])
    assert second["response"] == body["response"]


async def test_infer_model_override_is_explicit(running: Running) -> None:
    org = await running.signup()
    body = (await running.client.post(
        "/infer", json={"prompt": "hi", "model_override": "asahi-sim-gpt-4o"}, headers=bearer(org["api_key"])
    )).json()
    assert body["model_used"] == "asahi-sim-gpt-4o" and body["routing_reason"].startswith("explicit")
    assert body["cost_saved"] == 0


async def test_infer_cache_flags(running: Running) -> None:
    org = await running.signup()
    body = {"prompt": "flags", "cache": {"write": False}}
    await running.client.post("/infer", json=body, headers=bearer(org["api_key"]))
    again = (await running.client.post("/infer", json={"prompt": "flags"}, headers=bearer(org["api_key"]))).json()
    assert again["cache_hit"] is False


async def test_bad_infer_requests(running: Running) -> None:
    org = await running.signup()
    for body in [{}, {"prompt": ""}, {"prompt": "x", "messages": [{"role": "user", "content": "y"}]},
                 {"prompt": "x", "routing_mode": "sideways"}, {"prompt": "x", "cost_budget": -1},
                 {"prompt": "x", "unknown": 1}, {"prompt": "x", "routing_mode": "explicit"},
                 {"prompt": "x", "model_override": "nope"}]:
        response = await running.client.post("/infer", json=body, headers=bearer(org["api_key"]))
        assert 400 <= response.status_code < 500, (body, response.text)
        assert response.json()["error"]["code"] and response.json()["error"]["message"]
    assert (await running.client.post("/infer", json={"prompt": "x"})).status_code == 401


async def test_policy_changes_apply_to_cached_answers(running: Running) -> None:
    org = await running.signup()
    headers = bearer(org["api_key"])
    first = (await running.client.post("/infer", json={"prompt": "policy check"}, headers=headers)).json()
    other = next(m for m in ("asahi-sim-gpt-4o", "asahi-sim-claude-sonnet-4-5") if m != first["model_used"])
    await running.client.put("/governance/policy", headers=headers,
                             json={"allowed_models": [other], "default_model": other})
    running.app.state.components.policies._cache.clear()  # the 5 s policy cache, as after its TTL
    again = (await running.client.post("/infer", json={"prompt": "policy check"}, headers=headers)).json()
    assert again["cache_hit"] is False and again["model_used"] == other


async def test_routing_hints_are_part_of_the_cache_scope(running: Running) -> None:
    org = await running.signup()
    headers = bearer(org["api_key"])
    await running.client.post("/infer", json={"prompt": "hinted", "quality_preference": "low"}, headers=headers)
    other = (await running.client.post("/infer", json={"prompt": "hinted", "quality_preference": "high"},
                                       headers=headers)).json()
    assert other["cache_hit"] is False


async def test_contradictory_or_unknown_hints_are_refused(running: Running) -> None:
    org = await running.signup()
    for body in [{"prompt": "x", "model_override": "asahi-sim-gpt-4o", "routing_mode": "autopilot"},
                 {"prompt": "x", "quality_preference": "max"}, {"prompt": "x", "model_override": "m" * 150},
                 {"prompt": "x", "latency_preference": "instant"}]:
        response = await running.client.post("/infer", json=body, headers=bearer(org["api_key"]))
        assert response.status_code == 400, body
