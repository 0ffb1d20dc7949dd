from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import Running

ADMIN = {"X-Admin-Secret": "test-admin-secret"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_admin_secret_creates_a_key_for_any_org(running: Running) -> None:
    org = await running.signup()
    response = await running.client.post(
        "/governance/api-keys", headers=ADMIN, json={"org_id": org["org_id"], "name": "ci", "scopes": ["infer"]}
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["org_id"] == org["org_id"] and created["scopes"] == ["infer"]
    listed = await running.client.get("/governance/api-keys", headers=bearer(created["api_key"]))
    assert listed.status_code == 403  # an infer key is not an admin key


async def test_admin_key_creates_keys_in_its_own_org_only(running: Running) -> None:
    mine, other = await running.signup(), await running.signup()
    ok = await running.client.post(
        "/governance/api-keys", headers=bearer(mine["api_key"]), json={"name": "svc", "scopes": ["infer"]}
    )
    assert ok.status_code == 201 and ok.json()["org_id"] == mine["org_id"]
    cross = await running.client.post(
        "/governance/api-keys", headers=bearer(mine["api_key"]),
        json={"org_id": other["org_id"], "name": "evil", "scopes": ["admin"]},
    )
    assert cross.status_code == 403
    assert cross.json()["error"]["code"] == "cross_org_forbidden"
    listed = await running.client.get(
        "/governance/api-keys", headers=bearer(mine["api_key"]), params={"org_id": other["org_id"]}
    )
    assert listed.status_code == 403


async def test_key_cannot_revoke_another_orgs_key(running: Running) -> None:
    mine, other = await running.signup(), await running.signup()
    other_keys = (await running.client.get("/governance/api-keys", headers=bearer(other["api_key"]))).json()
    response = await running.client.delete(
        f"/governance/api-keys/{other_keys[0]['id']}", headers=bearer(mine["api_key"])
    )
    assert response.status_code == 404
    still = await running.client.get("/governance/api-keys", headers=bearer(other["api_key"]))
    assert still.status_code == 200


async def test_wrong_or_missing_credentials_are_refused(running: Running) -> None:
    org = await running.signup()
    body = {"org_id": org["org_id"], "name": "x", "scopes": ["infer"]}
    wrong = await running.client.post("/governance/api-keys", headers={"X-Admin-Secret": "nope"}, json=body)
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_admin_secret"
    missing = await running.client.post("/governance/api-keys", json=body)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "missing_api_key"
    unknown = await running.client.post("/governance/api-keys", headers=bearer("asahi_000000000000_nope"), json=body)
    assert unknown.status_code == 401 and unknown.json()["error"]["code"] == "invalid_api_key"
    garbage = await running.client.post("/governance/api-keys", headers=bearer("garbage"), json=body)
    assert garbage.status_code == 401


async def test_without_a_configured_secret_only_admin_keys_work(make_settings: object) -> None:
    from tests.conftest import start

    instance, stop = await start(make_settings())  # type: ignore[operator]
    try:
        org = await instance.signup()
        refused = await instance.client.post(
            "/governance/api-keys", headers={"X-Admin-Secret": "anything"},
            json={"org_id": org["org_id"], "name": "x", "scopes": ["infer"]},
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "admin_secret_disabled"
        allowed = await instance.client.post(
            "/governance/api-keys", headers=bearer(org["api_key"]), json={"name": "x", "scopes": ["infer"]}
        )
        assert allowed.status_code == 201
    finally:
        await stop()


async def test_bad_key_requests(running: Running) -> None:
    org = await running.signup()
    cases = [
        {"name": "x", "scopes": ["superuser"]},
        {"name": "x", "scopes": []},
        {"name": "", "scopes": ["infer"]},
        {"name": "x", "scopes": ["infer"], "expires_at": "2000-01-01T00:00:00Z"},
        {"name": "x", "scopes": ["infer"], "expires_at": "2999-01-01T00:00:00"},  # no timezone
        {"name": "x", "scopes": "infer"},
    ]
    for body in cases:
        response = await running.client.post("/governance/api-keys", headers=bearer(org["api_key"]), json=body)
        assert response.status_code == 400, (body, response.text)
    missing_org = await running.client.post(
        "/governance/api-keys", headers=ADMIN, json={"name": "x", "scopes": ["infer"]}
    )
    assert missing_org.status_code == 400
    no_such_org = await running.client.post(
        "/governance/api-keys", headers=ADMIN, json={"org_id": "nope", "name": "x", "scopes": ["infer"]}
    )
    assert no_such_org.status_code == 404


async def test_revoked_and_expired_keys_are_refused(running: Running) -> None:
    org = await running.signup()
    created = (await running.client.post(
        "/governance/api-keys", headers=bearer(org["api_key"]), json={"name": "tmp", "scopes": ["admin"]}
    )).json()
    assert (await running.client.get("/governance/api-keys", headers=bearer(created["api_key"]))).status_code == 200
    revoked = await running.client.delete(f"/governance/api-keys/{created['id']}", headers=bearer(org["api_key"]))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    after = await running.client.get("/governance/api-keys", headers=bearer(created["api_key"]))
    assert after.status_code == 401 and after.json()["error"]["code"] == "revoked_api_key"

    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    expiring = (await running.client.post(
        "/governance/api-keys", headers=bearer(org["api_key"]),
        json={"name": "short", "scopes": ["admin"], "expires_at": soon},
    )).json()
    import asyncio

    await asyncio.sleep(1.1)
    expired = await running.client.get("/governance/api-keys", headers=bearer(expiring["api_key"]))
    assert expired.status_code == 401 and expired.json()["error"]["code"] == "expired_api_key"


async def test_x_api_key_header_works_like_bearer(running: Running) -> None:
    org = await running.signup()
    response = await running.client.get("/governance/api-keys", headers={"x-api-key": org["api_key"]})
    assert response.status_code == 200


async def test_listed_keys_say_when_they_were_last_used(running: Running) -> None:
    org = await running.signup()
    created = (await running.client.post("/governance/api-keys", headers=bearer(org["api_key"]),
                                         json={"name": "svc", "scopes": ["infer"]})).json()
    await running.client.post("/infer", json={"prompt": "hi"}, headers=bearer(created["api_key"]))
    await running.app.state.components.ledger.flush()
    listed = {k["id"]: k for k in (await running.client.get("/governance/api-keys", headers=bearer(org["api_key"]))).json()}
    assert listed[created["id"]]["last_used_at"] is not None
    assert listed[org["key_id"]]["last_used_at"] is None
