from __future__ import annotations

import logging

import pytest

from asahi.embeddings.factory import build_embedding
from tests.conftest import Running, SettingsFactory, start


async def test_health_reports_backends(running: Running, backend: str) -> None:
    response = await running.client.get("/health")
    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "ok"
    assert data["cache_backend"] == ("redis" if backend == "postgres" else "memory")
    assert data["database_backend"] == ("postgresql" if backend == "postgres" else "sqlite")
    assert data["uptime_seconds"] >= 0
    assert response.headers["x-asahi-request-id"].startswith("req_")


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_unreachable_redis_falls_back_to_memory_with_the_guides_log_line(
    make_settings: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    instance, stop = await start(make_settings(REDIS_URL="redis://:secretpw@127.0.0.1:1/0"))
    try:
        assert (await instance.client.get("/health")).json()["cache_backend"] == "memory"
    finally:
        await stop()
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("Redis cache init or ping failed") for line in lines)
    assert not any("secretpw" in line for line in lines)


async def test_routes_other_than_health_and_signup_need_a_key(running: Running) -> None:
    for method, path in [("GET", "/governance/api-keys"), ("GET", "/metrics")]:
        response = await running.client.request(method, path)
        assert response.status_code == 401, path
    assert (await running.client.get("/openapi.json")).status_code == 200
    assert (await running.client.get("/nowhere")).status_code == 404


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_rejected_cohere_key_is_seen_at_start_up_with_its_reason(
    make_settings: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.fakes.cohere_server import FakeCohere

    caplog.set_level(logging.WARNING)
    with FakeCohere() as cohere:
        instance, stop = await start(make_settings(COHERE_API_KEY="wrong-key", COHERE_BASE_URL=cohere.base_url))
        try:
            data = (await instance.client.get("/health")).json()
        finally:
            await stop()
        assert len(cohere.requests) == 1  # one probe at start-up, none after the switch
    assert data["status"] == "degraded"
    assert data["embedder_check"] == {"embedder": "cohere:embed-english-v3.0", "status": "rejected",
                                      "reason": "Cohere rejected the key (401: invalid api token)"}
    assert data["embedder"] == build_embedding(provider="local").name  # the static table + MiniLM pair
    assert any("Cohere rejected the key (401: invalid api token) at start-up" in r.getMessage()
               for r in caplog.records if r.levelno == logging.ERROR)


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_a_good_cohere_key_is_checked_and_kept(make_settings: SettingsFactory) -> None:
    from tests.fakes.cohere_server import FakeCohere

    with FakeCohere() as cohere:
        instance, stop = await start(make_settings(COHERE_API_KEY=cohere.api_key, COHERE_BASE_URL=cohere.base_url))
        try:
            data = (await instance.client.get("/health")).json()
        finally:
            await stop()
    assert data["embedder_check"]["status"] == "ok" and data["embedder"] == "cohere:embed-english-v3.0"
