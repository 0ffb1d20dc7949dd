"""CORS for a dashboard on another origin: on the management routes and on the inference routes, which are served
ahead of FastAPI's middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import Running, SettingsFactory, start

DASHBOARD = "https://dash.example.com"
CHAT = {"model": "asahi-sim-gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


async def running_with(make_settings: SettingsFactory, origins: str | None) -> AsyncIterator[Running]:
    env = {} if origins is None else {"ASAHI_CORS_ORIGINS": origins}
    instance, stop = await start(make_settings(**env))
    try:
        yield instance
    finally:
        await stop()


@pytest.fixture
async def listed(make_settings: SettingsFactory) -> AsyncIterator[Running]:
    async for instance in running_with(make_settings, f"{DASHBOARD}, http://localhost:3000"):
        yield instance


@pytest.mark.parametrize("path", ["/v1/chat/completions", "/infer", "/analytics/usage", "/governance/policy"])
async def test_preflight_is_answered_for_a_listed_origin(listed: Running, path: str) -> None:
    response = await listed.client.options(path, headers={
        "origin": DASHBOARD, "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, x-stainless-os",
    })
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == DASHBOARD
    assert "authorization" in response.headers["access-control-allow-headers"]
    assert "POST" in response.headers["access-control-allow-methods"]


async def test_preflight_from_another_origin_is_refused(listed: Running) -> None:
    response = await listed.client.options("/v1/chat/completions", headers={
        "origin": "https://evil.example.com", "access-control-request-method": "POST"})
    assert response.status_code == 400 and "access-control-allow-origin" not in response.headers


async def test_inference_and_management_answers_carry_the_headers(listed: Running) -> None:
    org = await listed.signup()
    headers = {"origin": DASHBOARD, "authorization": f"Bearer {org['api_key']}"}
    chat = await listed.client.post("/v1/chat/completions", json=CHAT, headers=headers)
    usage = await listed.client.get("/analytics/usage", headers=headers)
    refused = await listed.client.post("/infer", json={"prompt": "hi"}, headers={"origin": DASHBOARD})
    for response in (chat, usage, refused):
        assert response.headers["access-control-allow-origin"] == DASHBOARD
        assert response.headers["access-control-allow-credentials"] == "true"
        assert "x-asahi-saved-usd" in response.headers["access-control-expose-headers"]
        assert "Origin" in response.headers["vary"]
    assert refused.status_code == 401
    foreign = await listed.client.post("/v1/chat/completions", json=CHAT,
                                       headers={**headers, "origin": "https://evil.example.com"})
    assert foreign.status_code == 200 and "access-control-allow-origin" not in foreign.headers


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_any_origin_never_allows_credentials(make_settings: SettingsFactory) -> None:
    async for instance in running_with(make_settings, "*"):
        org = await instance.signup()
        headers = {"origin": "https://anywhere.example", "authorization": f"Bearer {org['api_key']}"}
        for response in (
            await instance.client.post("/v1/chat/completions", json=CHAT, headers=headers),
            await instance.client.get("/health", headers={**headers, "cookie": "session=1"}),
            await instance.client.options("/infer", headers={**headers, "access-control-request-method": "POST"}),
        ):
            assert response.headers["access-control-allow-origin"] == "*"
            assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_no_origins_configured_means_no_cors_headers(make_settings: SettingsFactory) -> None:
    async for instance in running_with(make_settings, None):
        org = await instance.signup()
        headers = {"origin": DASHBOARD, "authorization": f"Bearer {org['api_key']}"}
        chat = await instance.client.post("/v1/chat/completions", json=CHAT, headers=headers)
        preflight = await instance.client.options("/v1/chat/completions", headers={
            "origin": DASHBOARD, "access-control-request-method": "POST"})
        assert chat.status_code == 200
        assert not any(h.startswith("access-control-") for h in (*chat.headers, *preflight.headers))
