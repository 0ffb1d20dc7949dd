"""Upstream failures reach the client with the right status, in the shape of the surface it called.

Before the first event a failure is an ordinary error response (streaming requests included); after it, the
stream ends with the surface's terminal error event. A failed answer is never cached: the same request again
goes upstream.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.server import Behaviour, Drop, Fail, Slow, StreamFail
from tests.integration.conftest import CLAUDE, GPT, Gateway, sse_data, sse_events

PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages"}


def request(surface: str, model: str, text: str = "Hi there", *, stream: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}], "stream": stream}
    return body | {"max_tokens": 100} if surface == "anthropic" else body


def error_of(surface: str, body: Any) -> tuple[str, str]:
    """(error type, message) after checking the surface's exact error envelope."""
    if surface == "openai":
        assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
        return body["error"]["type"], body["error"]["message"]
    assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
    return body["error"]["type"], body["error"]["message"]


def fake_for(gateway: Gateway, model: str) -> Any:
    return gateway.anthropic if model == CLAUDE else gateway.openai


# upstream failure -> (status Asahi answers, error type on the OpenAI surface, on the Anthropic surface)
STATUS_CASES: list[tuple[Fail, int, str, str]] = [
    (Fail(400, "bad field"), 400, "invalid_request_error", "invalid_request_error"),
    (Fail(401, "bad key"), 502, "api_error", "api_error"),  # our provider key, not the caller's
    (Fail(429, "slow down", headers={"retry-after": "7"}), 429, "rate_limit_error", "rate_limit_error"),
    (Fail(500, "it broke"), 502, "api_error", "api_error"),
]
OVERLOADED = (Fail(529, "capacity exhausted in region"), 503, "api_error", "overloaded_error")


@pytest.mark.parametrize("surface", ["openai", "anthropic"])
@pytest.mark.parametrize("model", [GPT, CLAUDE])
async def test_upstream_status_errors(gateway: Gateway, surface: str, model: str) -> None:
    cases = STATUS_CASES + ([OVERLOADED] if model == CLAUDE else [])
    expected_statuses = []
    for fail, status, openai_type, anthropic_type in cases:
        for stream in (False, True):
            fake_for(gateway, model).script(fail)
            response = await gateway.post(PATHS[surface], request(surface, model, f"{fail.status}", stream=stream))
            assert response.status_code == status, (fail, stream, response.text)
            assert response.headers["content-type"] == "application/json"
            kind, message = error_of(surface, response.json())
            assert kind == (openai_type if surface == "openai" else anthropic_type)
            # The provider's words reach the tenant only when they are about the tenant's own request.
            assert (fail.message in message) == (fail.status == 400)
            assert response.headers.get("retry-after") == fail.headers.get("retry-after")
            expected_statuses.append(status)
    assert [row["status"] for row in await gateway.ledger()] == expected_statuses


@pytest.mark.parametrize("gateway_timeout", [0.5])
@pytest.mark.parametrize(("surface", "model"), [("openai", CLAUDE), ("anthropic", GPT)])
async def test_upstream_timeout_is_504(gateway: Gateway, surface: str, model: str) -> None:
    for stream in (False, True):
        fake_for(gateway, model).script(Slow(2.0))
        response = await gateway.post(PATHS[surface], request(surface, model, stream=stream))
        assert response.status_code == 504, response.text
        kind, message = error_of(surface, response.json())
        assert kind == ("api_error" if surface == "openai" else "timeout_error")
        assert "did not answer in time" in message
    assert [row["status"] for row in await gateway.ledger()] == [504, 504]


@pytest.mark.parametrize(("surface", "model"), [("openai", CLAUDE), ("anthropic", GPT)])
async def test_connection_dropped_before_the_answer_is_502(gateway: Gateway, surface: str, model: str) -> None:
    for stream in (False, True):
        fake_for(gateway, model).script(Drop())
        response = await gateway.post(PATHS[surface], request(surface, model, stream=stream))
        assert response.status_code == 502, response.text
        assert error_of(surface, response.json())[0] == "api_error"


# After how many upstream events one text piece ("Hello from ") has been produced.
ONE_PIECE = {GPT: 2, CLAUDE: 4}


def mid_stream_failures(model: str) -> list[Behaviour]:
    return [StreamFail(ONE_PIECE[model], message="melted"), Drop(ONE_PIECE[model])]


@pytest.mark.parametrize("model", [GPT, CLAUDE])
async def test_openai_stream_failing_midway_ends_with_an_error_chunk(gateway: Gateway, model: str) -> None:
    fake = fake_for(gateway, model)
    for failure in mid_stream_failures(model):
        fake.reset()
        fake.script(failure)
        body = request("openai", model, f"{failure}", stream=True)
        response = await gateway.post(PATHS["openai"], body)
        assert response.status_code == 200 and response.headers["x-asahi-cache"] == "miss"
        *chunks, last = sse_data(response.text)
        assert [c["choices"][0]["delta"] for c in chunks] == [
            {"role": "assistant", "content": "", "refusal": None}, {"content": "Hello from "}]
        assert error_of("openai", last)[0] == "api_error" and last["error"]["code"].startswith("provider_")
        again = await gateway.post(PATHS["openai"], body)
        assert again.headers["x-asahi-cache"] == "miss" and sse_data(again.text)[-1] == "[DONE]"
        assert len(fake.requests) == 2
    assert [row["status"] for row in await gateway.ledger()] == [502, 200, 502, 200]


@pytest.mark.parametrize("model", [GPT, CLAUDE])
async def test_anthropic_stream_failing_midway_ends_with_an_error_event(gateway: Gateway, model: str) -> None:
    fake = fake_for(gateway, model)
    for failure in mid_stream_failures(model):
        fake.reset()
        fake.script(failure)
        body = request("anthropic", model, f"{failure}", stream=True)
        response = await gateway.post(PATHS["anthropic"], body)
        assert response.status_code == 200 and response.headers["x-asahi-cache"] == "miss"
        events = sse_events(response.text)
        assert [name for name, _ in events] == [
            "message_start", "content_block_start", "ping", "content_block_delta", "error"]
        assert events[3][1]["delta"] == {"type": "text_delta", "text": "Hello from "}
        assert error_of("anthropic", events[-1][1])[0] == "api_error"
        again = await gateway.post(PATHS["anthropic"], body)
        assert again.headers["x-asahi-cache"] == "miss" and sse_events(again.text)[-1][0] == "message_stop"
        assert len(fake.requests) == 2
    assert [row["status"] for row in await gateway.ledger()] == [502, 200, 502, 200]
