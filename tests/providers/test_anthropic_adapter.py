"""AnthropicProvider against the fake Anthropic server: translation out, usage in, failures mapped."""

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
from asahi.errors import BadRequest, ProviderError
from asahi.providers.anthropic.adapter import AnthropicProvider
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.server import Drop, Fail, Reply, Slow, StreamFail

WEATHER = Tool("weather", "Weather now", {"type": "object", "properties": {"city": {"type": "string"}}})


def ask(text: str = "hi", **fields: object) -> ChatRequest:
    return ChatRequest(model="x", messages=[Message("user", [TextPart(text)])], **fields)  # type: ignore[arg-type]


async def test_complete_translates_an_openai_shaped_request(
    anthropic_provider: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(Reply(text="Hi!", input_tokens=3000, output_tokens=8, cached_tokens=2048,
                                cache_write_tokens=512))
    request = ChatRequest(
        model="auto",
        messages=[
            Message("system", [TextPart("Shared preamble", cache_control=True)]),
            Message("user", [TextPart("Look"), ImagePart(url="https://x/a.png")]),
            Message("assistant", [TextPart("")], [ToolCall("call_1", "weather", '{"city":"Oslo"}')]),
            Message("tool", [TextPart("sunny")], tool_call_id="call_1"),
            Message("tool", [TextPart("no data")], tool_call_id="call_2", is_error=True),
            Message("user", [TextPart("Thanks")]),
        ],
        tools=[WEATHER], tool_choice=ToolChoice("required"), parallel_tool_calls=False,
        temperature=1.6, top_p=0.9, stop=["END"], user="u1", seed=4,
        response_format={"type": "json_object"},
    )
    result = await anthropic_provider.complete(request, "claude-haiku-4-5")
    assert result.choices[0].message.text == "Hi!" and result.provider == "anthropic"
    assert result.usage == Usage(input_tokens=3000, output_tokens=8, cached_input_tokens=2048,
                                 cache_write_tokens=512)
    sent = fake_anthropic.last.body
    assert sent["model"] == "claude-haiku-4-5" and sent["max_tokens"] == 4096
    assert sent["system"][0] == {"type": "text", "text": "Shared preamble", "cache_control": {"type": "ephemeral"}}
    assert "JSON" in sent["system"][1]["text"]
    user, assistant, results = sent["messages"]
    assert user["content"][1] == {"type": "image", "source": {"type": "url", "url": "https://x/a.png"}}
    assert assistant == {"role": "assistant", "content": [
        {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Oslo"}}]}
    assert results["role"] == "user" and results["content"] == [
        {"type": "tool_result", "tool_use_id": "call_1", "content": [{"type": "text", "text": "sunny"}]},
        {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "no data"}],
         "is_error": True},
        {"type": "text", "text": "Thanks"},
    ]
    assert sent["tools"] == [{"name": "weather", "description": "Weather now", "input_schema": WEATHER.parameters}]
    assert sent["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}
    assert sent["stop_sequences"] == ["END"] and sent["metadata"] == {"user_id": "u1"}
    assert not {"temperature", "top_p", "seed"} & set(sent)


async def test_tool_use_answer(anthropic_provider: AnthropicProvider, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(Reply(text="", tool_calls=(("weather", {"city": "Oslo"}),)))
    result = await anthropic_provider.complete(ask(tools=[WEATHER], tool_choice=ToolChoice("tool", "weather")), "m")
    assert result.choices[0].message.tool_calls == [ToolCall("toolu_0", "weather", '{"city":"Oslo"}')]
    assert result.choices[0].finish_reason == "tool_calls"
    assert fake_anthropic.last.body["tool_choice"] == {"type": "tool", "name": "weather"}


@pytest.mark.parametrize(("stop", "finish"), [("max_tokens", "length"), ("stop_sequence", "stop"),
                                              ("refusal", "content_filter")])
async def test_stop_reasons(
    anthropic_provider: AnthropicProvider, fake_anthropic: FakeAnthropic, stop: str, finish: str
) -> None:
    fake_anthropic.script(Reply(finish=stop))
    result = await anthropic_provider.complete(ask(), "m")
    assert result.choices[0].finish_reason == finish


async def test_n_above_one_is_refused(anthropic_provider: AnthropicProvider, fake_anthropic: FakeAnthropic) -> None:
    with pytest.raises(BadRequest) as caught:
        await anthropic_provider.complete(ask(n=2), "m")
    assert caught.value.details["param"] == "n" and not fake_anthropic.requests


async def collect(events: object) -> list[StreamEvent]:
    return [e async for e in events]  # type: ignore[attr-defined]


async def test_stream(anthropic_provider: AnthropicProvider, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(Reply(text="Let me check", tool_calls=(("weather", {"city": "Oslo"}),),
                                input_tokens=500, output_tokens=21, cached_tokens=400, cache_write_tokens=50))
    events = await collect(anthropic_provider.stream(ask(stream=True, tools=[WEATHER]), "m"))
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Let me check"
    calls = [e for e in events if isinstance(e, ToolCallDelta)]
    assert (calls[0].id, calls[0].name, calls[0].tool_index) == ("toolu_0", "weather", 0)
    assert "".join(c.arguments for c in calls) == '{"city":"Oslo"}'
    assert events[-2:] == [FinishEvent(0, "tool_calls"), UsageEvent(Usage(500, 21, 400, 50))]
    assert fake_anthropic.last.body["stream"] is True


@pytest.mark.parametrize(
    ("behaviour", "status", "code", "retryable"),
    [
        (Fail(400, "bad"), 400, "provider_bad_request", False),
        (Fail(401, "invalid x-api-key"), 502, "provider_authentication_failed", False),
        (Fail(403, "denied"), 502, "provider_permission_denied", False),
        (Fail(404, "no model"), 404, "provider_not_found", False),
        (Fail(413, "too big"), 413, "provider_request_too_large", False),
        (Fail(429, "slow down"), 429, "provider_rate_limited", True),
        (Fail(500, "boom"), 502, "provider_error", True),
        (Fail(529, "Overloaded"), 503, "provider_overloaded", True),
    ],
)
async def test_status_errors_map_to_provider_errors(
    anthropic_provider: AnthropicProvider, fake_anthropic: FakeAnthropic, behaviour: Fail, status: int, code: str,
    retryable: bool
) -> None:
    fake_anthropic.script(behaviour)
    with pytest.raises(ProviderError) as caught:
        await anthropic_provider.complete(ask(), "m")
    err = caught.value
    assert (err.status, err.code, err.retryable, err.provider) == (status, code, retryable, "anthropic")
    assert behaviour.message in err.detail and len(fake_anthropic.requests) == 1
    # Only an error about the caller's own request passes the provider's words on to the tenant.
    assert (behaviour.message in err.message) == (behaviour.status in (400, 404, 413, 422))


async def test_rate_limit_retry_after(anthropic_provider: AnthropicProvider, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(Fail(429, "slow down", headers={"retry-after": "12"}))
    with pytest.raises(ProviderError) as caught:
        await collect(anthropic_provider.stream(ask(), "m"))
    assert (caught.value.status, caught.value.retry_after) == (429, 12.0)
    assert caught.value.headers == {"retry-after": "12"}


async def test_overloaded_mid_stream_is_retryable(
    anthropic_provider: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(StreamFail(after_events=4, status=529, message="Overloaded"))
    seen: list[StreamEvent] = []
    with pytest.raises(ProviderError) as caught:
        async for event in anthropic_provider.stream(ask(), "m"):
            seen.append(event)
    assert seen and (caught.value.code, caught.value.retryable) == ("provider_overloaded", True)


async def test_slow_upstream_times_out(fake_anthropic: FakeAnthropic) -> None:
    provider = AnthropicProvider(fake_anthropic.api_key, base_url=fake_anthropic.url, timeout=0.2)
    fake_anthropic.script(Slow(1.0))
    try:
        with pytest.raises(ProviderError) as caught:
            await provider.complete(ask(), "m")
    finally:
        await provider.aclose()
    assert (caught.value.status, caught.value.code) == (504, "provider_timeout")


@pytest.mark.parametrize("after", [0, 3])
async def test_dropped_connection(
    anthropic_provider: AnthropicProvider, fake_anthropic: FakeAnthropic, after: int
) -> None:
    fake_anthropic.script(Drop(after_events=after))
    with pytest.raises(ProviderError) as caught:
        if after:
            await collect(anthropic_provider.stream(ask(), "m"))
        else:
            await anthropic_provider.complete(ask(), "m")
    assert (caught.value.code, caught.value.retryable) == ("provider_connection_error", True)
