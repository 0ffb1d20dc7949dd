"""The inference routes are served ahead of FastAPI's middleware; they keep its request ids and body limit."""

from __future__ import annotations

import pytest

from tests.conftest import Running

PATHS = ["/v1/chat/completions", "/v1/messages", "/infer"]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "content-type": "application/json"}


@pytest.mark.parametrize("path", PATHS)
async def test_an_oversized_body_is_413_with_a_request_id(running: Running, path: str) -> None:
    org = await running.signup()
    big = b'{"model": "' + b"x" * 5_000_000 + b'"}'
    response = await running.client.post(path, content=big, headers=bearer(org["api_key"]))
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"
    assert response.headers["x-asahi-request-id"].startswith("req_")


@pytest.mark.parametrize("path", PATHS)
async def test_an_oversized_chunked_body_never_reaches_the_pipeline(running: Running, path: str) -> None:
    org = await running.signup()

    async def chunks():  # type: ignore[no-untyped-def]
        yield b'{"model": "asahi-sim-gpt-4o-mini", "prompt": "hi", "max_tokens": 5, '
        yield b'"messages": [{"role": "user", "content": "hi"}], "pad": "' + b" " * 5_000_000 + b'"}'

    response = await running.client.post(path, content=chunks(), headers=bearer(org["api_key"]))
    assert response.status_code == 413
    await running.app.state.components.ledger.flush()
    usage = await running.client.get("/analytics/usage", headers=bearer(org["api_key"]))
    assert usage.status_code == 200 and usage.json()["total"]["requests"] == 0


async def test_every_inference_answer_carries_its_own_request_id(running: Running) -> None:
    org = await running.signup()
    body = {"model": "asahi-sim-gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    first = await running.client.post("/v1/chat/completions", json=body, headers=bearer(org["api_key"]))
    second = await running.client.post("/v1/chat/completions", json=body, headers=bearer(org["api_key"]))
    assert first.status_code == second.status_code == 200
    assert first.headers["x-asahi-request-id"] != second.headers["x-asahi-request-id"]
    unauthorised = await running.client.post("/v1/chat/completions", json=body)
    assert unauthorised.status_code == 401 and unauthorised.headers["x-asahi-request-id"].startswith("req_")


async def test_other_methods_still_get_fastapis_405(running: Running) -> None:
    response = await running.client.get("/v1/chat/completions")
    assert response.status_code == 405


async def test_a_bug_behind_an_inference_route_is_a_500_in_our_shape(running: Running) -> None:
    org = await running.signup()

    async def broken(call: object) -> object:
        raise RuntimeError("a bug")

    running.app.state.components.pipeline.run = broken
    response = await running.client.post("/infer", json={"prompt": "hi"}, headers=bearer(org["api_key"]))
    assert response.status_code == 500
    assert response.json()["error"] == {"code": "internal_error", "message": "Internal error."}
    assert response.headers["x-asahi-request-id"].startswith("req_")
