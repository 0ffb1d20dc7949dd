"""Values a database refuses (NUL characters, integers past a column's range, dates past year 9999 in UTC) get a
400 in Asahi's error shape on every backend, never a 500 or a 503, and never put the instance into outage mode."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Running

ADMIN = {"X-Admin-Secret": "test-admin-secret"}
HUGE = 2**70


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _database_still_up(running: Running) -> None:
    health = (await running.client.get("/health")).json()
    assert health["backends"]["database"]["status"] == "ok"
    assert (await running.client.post("/signup", json={"org_name": "after", "email": "a@example.com"})
            ).status_code == 201


def _refused(response: Any) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in {"invalid_request", "invalid_value"}


async def test_nul_in_names_is_refused(running: Running) -> None:
    _refused(await running.client.post("/signup", json={"org_name": "bad\u0000org", "email": "a@example.com"}))
    org = await running.signup()
    _refused(await running.client.post("/governance/api-keys", headers=bearer(org["api_key"]),
                                       json={"name": "k\u0000", "scopes": ["infer"]}))
    await _database_still_up(running)


@pytest.mark.parametrize("method,path", [
    ("GET", "/analytics/requests/req%00x"),
    ("PATCH", "/governance/api-keys/key%00x"),
    ("DELETE", "/governance/api-keys/key%00x"),
])
async def test_nul_in_path_parameters_is_refused(running: Running, method: str, path: str) -> None:
    org = await running.signup()
    response = await running.client.request(method, path, headers=bearer(org["api_key"]),
                                            json={"name": "x"} if method == "PATCH" else None)
    _refused(response)
    await _database_still_up(running)


async def test_integers_past_their_range_are_refused(running: Running) -> None:
    org = await running.signup()
    _refused(await running.client.put("/governance/policy", headers=bearer(org["api_key"]),
                                      json={"requests_per_minute": HUGE}))
    _refused(await running.client.post("/governance/api-keys", headers=bearer(org["api_key"]),
                                       json={"name": "k", "scopes": ["infer"], "requests_per_minute": 3_000_000_000}))
    await _database_still_up(running)


async def test_expiry_past_the_last_representable_instant_is_refused(running: Running) -> None:
    org = await running.signup()
    _refused(await running.client.post("/governance/api-keys", headers=bearer(org["api_key"]),
                                       json={"name": "k", "scopes": ["infer"],
                                             "expires_at": "9999-12-31T23:59:59-23:59"}))
    await _database_still_up(running)
