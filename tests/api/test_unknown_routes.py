"""Unknown routes and methods answer in their surface's error shape, naming the route, so SDKs report them as
such. Nothing here needs the app's components, so the app runs without its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import anthropic
import httpx
import httpx2
import openai
import pytest

from asahi.app import create_app
from asahi.settings import load_settings


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[object]:
    yield create_app(load_settings({"ASAHI_DATA_DIR": str(tmp_path)}))


async def call(app: object, method: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://asahi.test") as client:  # type: ignore[arg-type]
        return await client.request(method, path, json={})


async def test_an_unknown_openai_route_answers_in_openai_shape(app: object) -> None:
    response = await call(app, "POST", "/v1/assistants")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["type"] == "not_found_error" and error["code"] == "unknown_route"
    assert "POST /v1/assistants" in error["message"] and "model" not in error["message"]


async def test_an_unknown_anthropic_route_answers_in_anthropic_shape(app: object) -> None:
    response = await call(app, "POST", "/v1/messages/batches")
    assert response.status_code == 404
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == "not_found_error"
    assert "POST /v1/messages/batches" in body["error"]["message"]


async def test_a_wrong_method_names_the_route_and_the_allowed_one(app: object) -> None:
    openai_shaped = await call(app, "GET", "/v1/chat/completions")
    assert openai_shaped.status_code == 405 and openai_shaped.headers["allow"] == "POST"
    assert openai_shaped.json()["error"]["message"] == "Method GET is not allowed on /v1/chat/completions; use POST."
    anthropic_shaped = await call(app, "DELETE", "/v1/messages")
    assert anthropic_shaped.status_code == 405 and anthropic_shaped.json()["type"] == "error"


async def test_asahi_routes_keep_asahi_shape(app: object) -> None:
    response = await call(app, "GET", "/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "unknown_route", "message": response.json()["error"]["message"]}}
    assert "GET /no/such/thing" in response.json()["error"]["message"]


async def test_the_sdks_report_an_unknown_endpoint_not_a_model(app: object) -> None:
    transport = httpx2.ASGITransport(app=app)  # type: ignore[arg-type]
    client = openai.AsyncOpenAI(base_url="http://asahi.test/v1", api_key="k", max_retries=0,
                                http_client=httpx2.AsyncClient(transport=transport))
    with pytest.raises(openai.NotFoundError) as raised:
        await client.fine_tuning.jobs.list()
    assert "Unknown route: GET /v1/fine_tuning/jobs" in str(raised.value)
    claude = anthropic.AsyncAnthropic(base_url="http://asahi.test", api_key="k", max_retries=0,
                                      http_client=httpx2.AsyncClient(transport=transport))
    with pytest.raises(anthropic.NotFoundError) as missing:
        await claude.messages.batches.list()
    assert "Unknown route: GET /v1/messages/batches" in str(missing.value)
