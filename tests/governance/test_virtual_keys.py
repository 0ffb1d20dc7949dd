"""Virtual keys: a key's own models, rate limits and expiry hold on every surface, cache hits included, on top of
its org's policy (the stricter wins); they are set at creation, changed by PATCH and shown in the key list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Running

SIM = "asahi-sim-gpt-4o-mini"
BIG = "asahi-sim-gpt-4o"
LOCAL_EMBEDDER = "asahi-embed-minilm-l6-v2"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def new_key(running: Running, admin: str, **fields: Any) -> dict[str, Any]:
    response = await running.client.post("/governance/api-keys", headers=bearer(admin),
                                         json={"name": "virtual", "scopes": ["infer"], **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def ask(running: Running, surface: str, key: str, model: str, text: str = "Same question") -> Any:
    if surface == "openai":
        return await running.client.post("/v1/chat/completions", headers=bearer(key),
                                         json={"model": model, "messages": [{"role": "user", "content": text}]})
    if surface == "anthropic":
        return await running.client.post("/v1/messages", headers={"x-api-key": key}, json={
            "model": model, "max_tokens": 64, "messages": [{"role": "user", "content": text}]})
    if surface == "responses":
        return await running.client.post("/v1/responses", headers=bearer(key), json={"model": model, "input": text})
    return await running.client.post("/infer", headers=bearer(key), json={"prompt": text, "model_override": model})


@pytest.mark.parametrize("surface", ["openai", "anthropic", "responses", "native"])
async def test_a_keys_model_list_holds_on_every_surface_cache_hits_included(running: Running, surface: str) -> None:
    org = await running.signup()
    # The admin key puts BIG's answer in the org's cache; the narrowed key must still not get it.
    assert (await ask(running, surface, org["api_key"], BIG)).status_code == 200
    narrow = await new_key(running, org["api_key"], allowed_models=[SIM])
    refused = await ask(running, surface, narrow["api_key"], BIG)
    assert refused.status_code == 403, refused.text
    if surface == "anthropic":
        assert refused.json()["error"]["type"] == "permission_error"
    else:
        assert refused.json()["error"]["code"] == "model_not_allowed"
    assert (await ask(running, surface, narrow["api_key"], SIM)).status_code == 200


async def test_a_keys_model_list_holds_for_embeddings(running: Running) -> None:
    org = await running.signup()
    narrow = await new_key(running, org["api_key"], allowed_models=[SIM])
    response = await running.client.post("/v1/embeddings", headers=bearer(narrow["api_key"]),
                                         json={"model": LOCAL_EMBEDDER, "input": "hello"})
    assert response.status_code == 403 and response.json()["error"]["code"] == "model_not_allowed"


async def test_the_stricter_of_key_and_org_wins(running: Running) -> None:
    org = await running.signup()
    await running.client.put("/governance/policy", headers=bearer(org["api_key"]), json={"allowed_models": [SIM]})
    wider = await new_key(running, org["api_key"], allowed_models=[SIM, BIG])
    assert (await ask(running, "openai", wider["api_key"], BIG)).status_code == 403
    assert (await ask(running, "openai", wider["api_key"], SIM)).status_code == 200


@pytest.mark.parametrize("surface", ["openai", "anthropic", "native"])
async def test_a_keys_rate_limit_holds_on_every_surface_cache_hits_included(running: Running, surface: str) -> None:
    org = await running.signup()
    limited = await new_key(running, org["api_key"], requests_per_minute=2)
    statuses = [(await ask(running, surface, limited["api_key"], SIM)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]  # the second is a cache hit; the third is refused all the same
    # The limit is the key's: another key of the org is not slowed by it.
    assert (await ask(running, surface, org["api_key"], SIM)).status_code == 200


async def test_a_keys_token_rate_limit_counts_the_prompt_and_max_tokens(running: Running) -> None:
    org = await running.signup()
    limited = await new_key(running, org["api_key"], tokens_per_minute=100)
    body = {"model": SIM, "max_tokens": 60, "messages": [{"role": "user", "content": "hi"}]}
    first = await running.client.post("/v1/chat/completions", headers=bearer(limited["api_key"]), json=body)
    second = await running.client.post("/v1/chat/completions", headers=bearer(limited["api_key"]), json=body)
    assert first.status_code == 200 and second.status_code == 429
    assert "token rate" in second.json()["error"]["message"]


async def test_limits_are_listed_changed_and_cleared(running: Running) -> None:
    org = await running.signup()
    admin = bearer(org["api_key"])
    expires = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    key = await new_key(running, org["api_key"], allowed_models=[SIM], requests_per_minute=5,
                        budgets=[{"limit_usd": 2, "window": "month", "hard": False}], expires_at=expires)
    listed = {k["id"]: k for k in (await running.client.get("/governance/api-keys", headers=admin)).json()}
    view = listed[key["id"]]
    assert view["allowed_models"] == [SIM] and view["requests_per_minute"] == 5
    assert view["budgets"] == [{"limit_usd": 2.0, "window": "month", "hard": False}]
    assert view["expires_at"] is not None
    changed = await running.client.patch(f"/governance/api-keys/{key['id']}", headers=admin,
                                         json={"allowed_models": None, "requests_per_minute": 1})
    assert changed.status_code == 200, changed.text
    assert changed.json()["allowed_models"] is None and changed.json()["requests_per_minute"] == 1
    assert changed.json()["budgets"][0]["limit_usd"] == 2  # untouched: not sent
    # The change applies at once (the key's cached copy is dropped): BIG is allowed now, and the rate is 1.
    assert (await ask(running, "openai", key["api_key"], BIG)).status_code == 200
    assert (await ask(running, "openai", key["api_key"], BIG)).status_code == 429


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"allowed_models": ["gpt-17"]}, 400, "unknown_model"),
    ({"requests_per_minute": 0}, 400, "invalid_request"),
    ({"budgets": [{"limit_usd": 1, "window": "fortnight"}]}, 400, "invalid_request"),
    ({"name": None}, 400, "invalid_request"),
    ({"colour": "blue"}, 400, "invalid_request"),
])
async def test_bad_changes_are_refused(running: Running, body: dict[str, Any], status: int, code: str) -> None:
    org = await running.signup()
    key = await new_key(running, org["api_key"])
    response = await running.client.patch(f"/governance/api-keys/{key['id']}", headers=bearer(org["api_key"]),
                                          json=body)
    assert response.status_code == status and response.json()["error"]["code"] == code


async def test_a_key_of_another_org_cannot_be_changed(running: Running) -> None:
    a, b = await running.signup(), await running.signup()
    response = await running.client.patch(f"/governance/api-keys/{b['key_id']}", headers=bearer(a["api_key"]),
                                          json={"requests_per_minute": 1})
    assert response.status_code == 404
