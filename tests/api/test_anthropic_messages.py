from __future__ import annotations

import anthropic
import httpx2
import pytest

from tests.conftest import Running

SIM = "asahi-sim-claude-haiku-4-5"


def message(content: str = "Hello, Claude", **extra: object) -> dict[str, object]:
    return {"model": SIM, "max_tokens": 256, "messages": [{"role": "user", "content": content}], **extra}


async def test_messages_miss_then_hit(running: Running) -> None:
    org = await running.signup()
    headers = {"x-api-key": org["api_key"], "anthropic-version": "2023-06-01"}
    first = await running.client.post("/v1/messages", json=message(), headers=headers)
    second = await running.client.post("/v1/messages", json=message(), headers=headers)
    assert first.status_code == 200, first.text
    assert (first.headers["x-asahi-cache"], second.headers["x-asahi-cache"]) == ("miss", "t1")
    body = second.json()
    assert body["type"] == "message" and body["role"] == "assistant"
    assert body["content"][0]["type"] == "text" and body["stop_reason"] == "end_turn"
    assert body["content"] == first.json()["content"]


async def test_bad_messages_requests_get_anthropic_shaped_errors(running: Running) -> None:
    org = await running.signup()
    headers = {"x-api-key": org["api_key"]}
    no_max_tokens = {"model": SIM, "messages": [{"role": "user", "content": "x"}]}
    for body in (no_max_tokens, {**message(), "messages": "x"}, {**message(), "model": "claude-nope"}):
        response = await running.client.post("/v1/messages", json=body, headers=headers)
        assert 400 <= response.status_code < 500, body
        data = response.json()
        assert data["type"] == "error" and data["error"]["type"] and data["error"]["message"]
    unauthorized = await running.client.post("/v1/messages", json=message(), headers={"x-api-key": "bad"})
    assert unauthorized.status_code == 401
    assert unauthorized.json()["error"]["type"] == "authentication_error"


async def test_the_official_anthropic_sdk_works_unmodified(running: Running) -> None:
    org = await running.signup()
    client = anthropic.AsyncAnthropic(
        base_url="http://asahi.test", api_key=org["api_key"],
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=running.app)),
    )
    reply = await client.messages.create(model=SIM, max_tokens=200, messages=[{"role": "user", "content": "hi"}])
    assert reply.content[0].type == "text" and reply.usage.output_tokens > 0
    async with client.messages.stream(
        model=SIM, max_tokens=200, messages=[{"role": "user", "content": "stream please"}]
    ) as stream:
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    assert text.startswith("[asahi simulator]") and final.stop_reason == "end_turn"
    tools = [{"name": "get_weather", "description": "Weather", "input_schema": {
        "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]
    used = await client.messages.create(
        model=SIM, max_tokens=200, messages=[{"role": "user", "content": "weather in Paris?"}],
        tools=tools, tool_choice={"type": "any"},  # type: ignore[arg-type]
    )
    assert used.stop_reason == "tool_use"
    assert any(block.type == "tool_use" and block.name == "get_weather" for block in used.content)
    with pytest.raises(anthropic.NotFoundError):
        await client.messages.create(model="nope", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    await client.close()


async def test_an_openai_shaped_request_can_be_answered_by_a_claude_model(running: Running) -> None:
    org = await running.signup()
    response = await running.client.post(
        "/v1/chat/completions", headers={"Authorization": f"Bearer {org['api_key']}"},
        json={"model": SIM, "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 200 and response.json()["model"] == SIM
