from __future__ import annotations

import asyncio
import hashlib

from sqlalchemy import func, select

from asahi.store.tables import api_keys, orgs
from tests.conftest import Running


async def _count(running: Running, table: object) -> int:
    engine = running.app.state.components.engine
    async with engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())


async def test_signup_writes_one_org_and_one_key_holding_a_digest(running: Running) -> None:
    data = await running.signup("Acme Corp")
    assert data["org_name"] == "Acme Corp"
    assert data["api_key"].startswith("asahi_")
    assert await _count(running, orgs) == 1
    assert await _count(running, api_keys) == 1
    engine = running.app.state.components.engine
    async with engine.connect() as connection:
        row = (await connection.execute(select(api_keys))).one()._mapping
    assert row["org_id"] == data["org_id"]
    assert row["digest"] == hashlib.sha256(data["api_key"].encode()).hexdigest()
    assert data["api_key"] not in str(dict(row))
    assert row["scopes"] == "admin"


async def test_the_signup_key_authenticates(running: Running) -> None:
    data = await running.signup()
    response = await running.client.get(
        "/governance/api-keys", headers={"Authorization": f"Bearer {data['api_key']}"}
    )
    assert response.status_code == 200
    assert [k["org_id"] for k in response.json()] == [data["org_id"]]
    assert "api_key" not in response.json()[0] and "digest" not in response.json()[0]


async def test_duplicate_org_name_is_a_conflict_and_writes_nothing(running: Running) -> None:
    await running.signup("Same Name")
    response = await running.client.post("/signup", json={"org_name": "same name", "email": "b@example.com"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "org_exists"
    assert await _count(running, orgs) == 1
    assert await _count(running, api_keys) == 1


async def test_concurrent_signups_for_one_name_create_one_org(running: Running) -> None:
    responses = await asyncio.gather(*[
        running.client.post("/signup", json={"org_name": "racer", "email": "r@example.com"}) for _ in range(4)
    ])
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    assert await _count(running, orgs) == 1


async def test_bad_signup_bodies_get_clear_4xx(running: Running) -> None:
    cases = [
        (b"{not json", 400, "invalid_json"),
        (b'{"org_name": "x"}', 400, "invalid_request"),
        (b'{"org_name": "x", "email": "not-an-email"}', 400, "invalid_request"),
        (b'{"org_name": "x", "email": "a@example.com", "extra": 1}', 400, "invalid_request"),
        (b'{"org_name": 5, "email": "a@example.com"}', 400, "invalid_request"),
        (b'{"org_name": "   ", "email": "a@example.com"}', 400, "invalid_request"),
        (b"[]", 400, "invalid_request"),
    ]
    for body, status, code in cases:
        response = await running.client.post("/signup", content=body, headers={"content-type": "application/json"})
        assert response.status_code == status, body
        assert response.json()["error"]["code"] == code, body
        assert response.json()["error"]["message"]
    assert await _count(running, orgs) == 0


async def test_oversized_body_is_413(running: Running) -> None:
    big = b'{"org_name": "' + b"x" * 5_000_000 + b'", "email": "a@example.com"}'
    response = await running.client.post("/signup", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert await _count(running, orgs) == 0


async def test_signups_are_rate_limited_per_ip(running: Running) -> None:
    statuses = []
    for i in range(12):
        response = await running.client.post("/signup", json={"org_name": f"o{i}", "email": "a@example.com"})
        statuses.append(response.status_code)
    assert statuses[:10] == [201] * 10
    assert statuses[10:] == [429, 429]
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["error"]["code"] == "rate_limited"


async def test_an_oversized_chunked_body_is_refused_before_anything_acts_on_it(running: Running) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"org_name": "chunky", "email": "a@example.com"}'
        yield b" " * 5_000_000

    response = await running.client.post("/signup", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert await _count(running, orgs) == 0


async def test_signup_sends_the_welcome_mail_through_smtp(make_settings: object) -> None:
    from tests.conftest import start
    from tests.notify.test_welcome_email import Sink, run_sink

    for sink, port in run_sink(Sink()):
        instance, stop = await start(make_settings(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port),  # type: ignore[operator]
                                                   SMTP_STARTTLS="false", ASAHI_FROM_EMAIL="hello@asahi.example"))
        try:
            response = await instance.client.post("/signup", json={"org_name": "Mailed", "email": "new@example.com"})
            assert response.status_code == 201
        finally:
            await stop()
        message = sink.message()
        assert message["To"] == "new@example.com" and message["From"] == "hello@asahi.example"
        assert "Mailed" in message["Subject"] + message.get_payload()[0].get_payload()


async def test_signup_sends_the_welcome_mail_through_sendgrid(make_settings: object) -> None:
    from tests.conftest import start
    from tests.fakes.sendgrid_server import FakeSendGrid

    with FakeSendGrid(api_key="SG.test") as fake:
        instance, stop = await start(make_settings(SENDGRID_API_KEY="SG.test", SENDGRID_BASE_URL=fake.base_url))  # type: ignore[operator]
        try:
            response = await instance.client.post("/signup", json={"org_name": "Gridded", "email": "g@example.com"})
            assert response.status_code == 201
        finally:
            await stop()
        assert [m["personalizations"][0]["to"][0]["email"] for m in fake.messages] == ["g@example.com"]
