"""OpenAIProvider against the fake OpenAI server: what it sends, what it returns, how it fails."""

from __future__ import annotations

import pytest

from asahi.domain import (
    ChatRequest,
    FinishEvent,
    ImagePart,
    Message,
    StreamEvent,
    TextDelta,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    Usage,
    UsageEvent,
)
from asahi.errors import ProviderError
from asahi.providers.base import Account
from asahi.providers.compatible import compatible_provider
from asahi.providers.openai.adapter import OpenAIProvider
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.server import Drop, Fail, Raw, Reply, Slow, StreamFail

WEATHER = Tool("weather", "Weather now", {"type": "object", "properties": {"city": {"type": "string"}}})


def ask(text: str = "hi", **fields: object) -> ChatRequest:
    return ChatRequest(model="gpt-4o", messages=[Message("user", [TextPart(text)])], **fields)  # type: ignore[arg-type]


async def test_complete_sends_the_request_and_reads_the_answer(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(Reply(text="Hello!", input_tokens=2000, output_tokens=7, cached_tokens=1536))
    request = ChatRequest(
        model="auto",
        messages=[
            Message("system", [TextPart("Be brief.")]),
            Message("user", [TextPart("What is it?"), ImagePart(data="QUJD", media_type="image/png")]),
        ],
        temperature=0.2, max_tokens=50, stop=["END"], seed=3, user="u1",
    )
    result = await openai_provider.complete(request, "gpt-4o-mini")
    assert result.choices[0].message.text == "Hello!" and result.choices[0].finish_reason == "stop"
    assert result.provider == "openai" and result.model == "gpt-4o-mini"
    assert result.usage == Usage(input_tokens=2000, output_tokens=7, cached_input_tokens=1536)
    sent = fake_openai.last.body
    assert fake_openai.last.headers["authorization"] == "Bearer test-key"
    assert sent["model"] == "gpt-4o-mini" and "stream" not in sent
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["messages"][1]["content"][1] == {"type": "image_url",
                                                 "image_url": {"url": "data:image/png;base64,QUJD"}}
    assert (sent["temperature"], sent["max_completion_tokens"], sent["stop"]) == (0.2, 50, ["END"])
    assert (sent["seed"], sent["user"]) == (3, "u1")


async def test_tool_calls_round_trip(openai_provider: OpenAIProvider, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Reply(text="", tool_calls=(("weather", {"city": "Oslo"}),)))
    request = ask(tools=[WEATHER], tool_choice=ToolChoice("tool", "weather"), parallel_tool_calls=False)
    result = await openai_provider.complete(request, "gpt-4o")
    assert result.choices[0].message.tool_calls == [ToolCall("call_0", "weather", '{"city":"Oslo"}')]
    assert result.choices[0].finish_reason == "tool_calls"
    sent = fake_openai.last.body
    assert sent["tools"][0]["function"]["name"] == "weather"
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "weather"}}
    assert sent["parallel_tool_calls"] is False


async def test_history_with_tool_results_is_sent_as_openai_messages(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    request = ChatRequest(model="x", messages=[
        Message("user", [TextPart("weather?")]),
        Message("assistant", [], [ToolCall("call_1", "weather", "{}")]),
        Message("tool", [TextPart("sunny")], tool_call_id="call_1"),
    ], tools=[WEATHER])
    await openai_provider.complete(request, "gpt-4o")
    _, assistant, tool = fake_openai.last.body["messages"]
    assert assistant == {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]}
    assert tool == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}


async def collect(events: object) -> list[StreamEvent]:
    return [e async for e in events]  # type: ignore[attr-defined]


async def test_stream_yields_text_tools_finish_and_usage(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(Reply(text="Hello there friend", tool_calls=(("weather", {"city": "Oslo"}),),
                             input_tokens=40, output_tokens=9, cached_tokens=32))
    events = await collect(openai_provider.stream(ask(stream=True), "gpt-4o"))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Hello there friend"
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert (calls[0].id, calls[0].name) == ("call_0", "weather")
    assert "".join(c.arguments for c in calls) == '{"city":"Oslo"}'
    assert events[-2:] == [FinishEvent(0, "tool_calls"), UsageEvent(Usage(40, 9, 32))]
    # Usage is always requested upstream, whatever the client asked for.
    assert fake_openai.last.body["stream_options"] == {"include_usage": True}


async def test_stream_without_upstream_usage_still_ends_with_one(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(Reply(stream_usage=False))
    events = await collect(openai_provider.stream(ask(), "gpt-4o"))
    assert events[-2:] == [FinishEvent(0, "stop"), UsageEvent(Usage())]


@pytest.mark.parametrize(
    ("behaviour", "status", "code", "retryable"),
    [
        (Fail(400, "bad"), 400, "provider_bad_request", False),
        (Fail(401, "bad key"), 502, "provider_authentication_failed", False),
        (Fail(403, "denied"), 502, "provider_permission_denied", False),
        (Fail(404, "no model"), 404, "provider_not_found", False),
        (Fail(409, "busy elsewhere"), 502, "provider_conflict", True),
        (Fail(422, "unprocessable"), 400, "provider_unprocessable", False),
        (Fail(429, "slow down"), 429, "provider_rate_limited", True),
        (Fail(500, "boom"), 502, "provider_error", True),
        (Fail(503, "down for maintenance"), 503, "provider_unavailable", True),
    ],
)
async def test_status_errors_map_to_provider_errors(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI, behaviour: Fail, status: int, code: str,
    retryable: bool
) -> None:
    fake_openai.script(behaviour)
    with pytest.raises(ProviderError) as caught:
        await openai_provider.complete(ask(), "gpt-4o")
    err = caught.value
    assert (err.status, err.code, err.retryable, err.provider) == (status, code, retryable, "openai")
    assert behaviour.message in err.detail
    # Only an error about the caller's own request passes the provider's words on to the tenant.
    assert (behaviour.message in err.message) == (behaviour.status in (400, 404, 413, 422))
    assert len(fake_openai.requests) == 1  # the SDK's own retries are off


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [({"retry-after": "7"}, 7.0), ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5), ({}, None)],
)
async def test_rate_limit_carries_retry_after(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI, headers: dict[str, str], seconds: float | None
) -> None:
    fake_openai.script(Fail(429, "slow down", headers=headers))
    with pytest.raises(ProviderError) as caught:
        await openai_provider.complete(ask(), "gpt-4o")
    assert caught.value.retry_after == seconds


async def test_refused_stream_raises_before_any_event(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(Fail(429, "slow down", headers={"retry-after": "2"}))
    with pytest.raises(ProviderError) as caught:
        await collect(openai_provider.stream(ask(), "gpt-4o"))
    assert (caught.value.status, caught.value.retry_after) == (429, 2.0)


async def test_slow_upstream_times_out(fake_openai: FakeOpenAI) -> None:
    provider = OpenAIProvider(fake_openai.api_key, base_url=fake_openai.base_url, timeout=0.2)
    fake_openai.script(Slow(1.0))
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.complete(ask(), "gpt-4o")
    finally:
        await provider.aclose()
    assert (caught.value.status, caught.value.code, caught.value.retryable) == (504, "provider_timeout", True)


async def test_dropped_connection_is_retryable(openai_provider: OpenAIProvider, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Drop())
    with pytest.raises(ProviderError) as caught:
        await openai_provider.complete(ask(), "gpt-4o")
    assert (caught.value.code, caught.value.retryable) == ("provider_connection_error", True)


async def test_connection_dropped_mid_stream(openai_provider: OpenAIProvider, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(Drop(after_events=3))
    seen: list[StreamEvent] = []
    with pytest.raises(ProviderError) as caught:
        async for event in openai_provider.stream(ask(), "gpt-4o"):
            seen.append(event)
    assert seen and caught.value.code == "provider_connection_error"


async def test_error_event_mid_stream(openai_provider: OpenAIProvider, fake_openai: FakeOpenAI) -> None:
    fake_openai.script(StreamFail(after_events=2, message="server melted"))
    with pytest.raises(ProviderError) as caught:
        await collect(openai_provider.stream(ask(), "gpt-4o"))
    assert "server melted" in caught.value.detail and "server melted" not in caught.value.message
    assert caught.value.retryable


async def test_unreachable_server() -> None:
    provider = OpenAIProvider("k", base_url="http://127.0.0.1:9/v1", timeout=2.0)
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.complete(ask(), "gpt-4o")
    finally:
        await provider.aclose()
    assert caught.value.retryable and caught.value.status in (502, 504)


async def test_an_orgs_own_key_goes_out_instead_of_the_operators(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    fake_openai.api_key = "org-own-key"
    try:
        result = await openai_provider.complete(ask(), "gpt-4o", Account("org-1", api_key="org-own-key"))
    finally:
        fake_openai.api_key = "test-key"
    assert result.choices and fake_openai.last.headers["authorization"] == "Bearer org-own-key"
    await openai_provider.complete(ask(), "gpt-4o")
    assert fake_openai.last.headers["authorization"] == "Bearer test-key"


@pytest.mark.parametrize(
    "body", [b"<html>bad gateway</html>", b"{}", b"[1, 2]", b'{"choices": []}', b'{"choices": [{"message": 3}]}',
             b'{"choices": [{"message": {"tool_calls": [{"type": "function"}]}}]}'],
)
async def test_a_200_that_is_not_an_answer_is_a_502_never_a_bill(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI, body: bytes
) -> None:
    fake_openai.script(Raw(body))
    with pytest.raises(ProviderError) as caught:
        await openai_provider.complete(ask(), "gpt-4o")
    assert (caught.value.status, caught.value.code) == (502, "provider_invalid_response")


@pytest.mark.parametrize("events", [[b"data: not json\n\n"], [b"data: [1]\n\n"], [b'data: {"choices": []}\n\n']])
async def test_a_stream_that_breaks_the_protocol_fails_cleanly(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI, events: list[bytes]
) -> None:
    fake_openai.script(Raw(b"".join(events), content_type="text/event-stream"))
    with pytest.raises(ProviderError) as caught:
        await collect(openai_provider.stream(ask(), "gpt-4o"))
    # A protocol error, or (for a well-formed chunk) a stream cut before its last event: both retryable 502s.
    assert caught.value.status == 502 and caught.value.retryable


def test_a_keyless_compatible_server_gets_no_authorization_header() -> None:
    assert compatible_provider("local", "http://127.0.0.1:1/v1").auth_headers(None) == {}


async def test_compatible_server_gets_max_tokens_and_its_name(fake_openai: FakeOpenAI) -> None:
    provider = compatible_provider("ollama", fake_openai.base_url, fake_openai.api_key)
    try:
        result = await provider.complete(ask(max_tokens=12), "llama3.1:8b")
    finally:
        await provider.aclose()
    assert provider.name == "ollama" and result.provider == "ollama"
    assert fake_openai.last.body["max_tokens"] == 12 and "max_completion_tokens" not in fake_openai.last.body
