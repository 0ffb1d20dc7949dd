"""GET/PUT /governance/policy and GET /governance/models; refusals name the field, so a form can show them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Running

SIM = "asahi-sim-gpt-4o-mini"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_policy_is_saved_and_read_back(running: Running) -> None:
    org = await running.signup()
    policy = {"allowed_models": [SIM], "default_model": SIM, "quality_floor": 0.9, "requests_per_minute": 60}
    saved = await running.client.put("/governance/policy", json=policy, headers=bearer(org["api_key"]))
    assert saved.status_code == 200
    read = (await running.client.get("/governance/policy", headers=bearer(org["api_key"]))).json()
    assert {k: read[k] for k in policy} == policy


@pytest.mark.parametrize(("body", "param", "code"), [
    ({"quality_floor": 1.5}, "quality_floor", "invalid_request"),
    ({"requests_per_minute": 0}, "requests_per_minute", "invalid_request"),
    ({"tier2_target_error": 0.5}, "tier2_target_error", "invalid_request"),
    ({"allowed_models": [SIM, 3]}, "allowed_models.1", "invalid_request"),
    ({"colour": "blue"}, "colour", "invalid_request"),
    ({"allowed_models": ["gpt-17"]}, "allowed_models", "unknown_model"),
    ({"baseline_model": "gpt-17"}, "baseline_model", "unknown_model"),
    ({"allowed_models": [SIM], "default_model": "asahi-sim-gpt-4o"}, "default_model", "invalid_policy"),
])
async def test_a_refused_policy_names_the_field(running: Running, body: dict[str, Any], param: str, code: str) -> None:
    org = await running.signup()
    response = await running.client.put("/governance/policy", json=body, headers=bearer(org["api_key"]))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code and error["param"] == param
    if code == "invalid_request":
        assert error["errors"][0]["param"] == param and error["errors"][0]["message"]


async def test_every_invalid_field_is_listed(running: Running) -> None:
    org = await running.signup()
    response = await running.client.put("/governance/policy", json={"quality_floor": 2, "requests_per_minute": -1},
                                        headers=bearer(org["api_key"]))
    assert {e["param"] for e in response.json()["error"]["errors"]} == {"quality_floor", "requests_per_minute"}


async def test_served_models_say_which_the_policy_allows(running: Running) -> None:
    org = await running.signup()
    await running.client.put("/governance/policy", json={"allowed_models": [SIM]}, headers=bearer(org["api_key"]))
    models = (await running.client.get("/governance/models", headers=bearer(org["api_key"]))).json()["data"]
    by_name = {m["name"]: m for m in models}
    assert by_name[SIM]["allowed"] is True and by_name[SIM]["provider"] == "simulator"
    assert by_name[SIM]["input_price"] is not None
    assert not any(m["allowed"] for name, m in by_name.items() if name != SIM)
    assert (await running.client.get("/governance/models")).status_code == 401
