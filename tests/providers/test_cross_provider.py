"""A request in one provider's wire format served by the other provider, and rendered back in the first."""

from __future__ import annotations

import orjson
from anthropic.types import Message as WireMessage
from openai.types.chat import ChatCompletion

from asahi.providers.anthropic import surface as anthropic_surface
from asahi.providers.anthropic.adapter import AnthropicProvider
from asahi.providers.openai import surface as openai_surface
from asahi.providers.openai.adapter import OpenAIProvider
from tests.fakes.anthropic_server import FakeAnthropic
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.server import Reply

OPENAI_TOOL = {"type": "function", "function": {"name": "weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
ANTHROPIC_TOOL = {"name": "weather", "input_schema": OPENAI_TOOL["function"]["parameters"]}  # type: ignore[index]


async def test_openai_request_served_by_anthropic(
    anthropic_provider: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    request = openai_surface.parse_request({
        "model": "claude-haiku-4-5",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Oslo"}'}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"},
            {"role": "user", "content": "And Bergen?"},
        ],
        "tools": [OPENAI_TOOL], "tool_choice": "required", "max_tokens": 64,
    })
    fake_anthropic.script(Reply(text="", tool_calls=(("weather", {"city": "Bergen"}),), input_tokens=90,
                                output_tokens=12, cached_tokens=60))
    result = await anthropic_provider.complete(request, "claude-haiku-4-5")

    sent = fake_anthropic.last.body
    assert sent["system"] == [{"type": "text", "text": "Be brief."}]
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["messages"][2]["content"][0]["type"] == "tool_result"
    assert sent["tool_choice"] == {"type": "any"} and sent["max_tokens"] == 64

    rendered = openai_surface.render_result(result, "chatcmpl-x")
    completion = ChatCompletion.model_validate(orjson.loads(orjson.dumps(rendered)))
    call = completion.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "weather" and orjson.loads(call.function.arguments) == {"city": "Bergen"}  # type: ignore[union-attr]
    assert completion.choices[0].finish_reason == "tool_calls"
    assert completion.usage is not None and completion.usage.prompt_tokens == 90
    assert completion.usage.prompt_tokens_details.cached_tokens == 60  # type: ignore[union-attr]


async def test_anthropic_request_served_by_openai(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    request = anthropic_surface.parse_request({
        "model": "gpt-4o", "max_tokens": 100,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": "Weather in Oslo?"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                {"type": "text", "text": "Summarise."},
            ]},
        ],
        "tools": [ANTHROPIC_TOOL],
    })
    fake_openai.script(Reply(text="Sunny in Oslo.", input_tokens=70, output_tokens=5, cached_tokens=64))
    result = await openai_provider.complete(request, "gpt-4o")

    sent = fake_openai.last.body
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "tool", "user"]
    assert sent["messages"][2]["tool_calls"][0]["function"] == {"name": "weather", "arguments": '{"city":"Oslo"}'}
    assert sent["messages"][3] == {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"}
    assert sent["tools"][0]["function"]["parameters"] == ANTHROPIC_TOOL["input_schema"]
    assert sent["max_completion_tokens"] == 100

    rendered = anthropic_surface.render_result(result, "msg_x")
    message = WireMessage.model_validate(orjson.loads(orjson.dumps(rendered)))
    assert message.content[0].type == "text" and message.content[0].text == "Sunny in Oslo."
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens) == (6, 64)


async def test_openai_tool_stream_rendered_as_anthropic_events(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    fake_openai.script(Reply(text="", tool_calls=(("weather", {"city": "Oslo"}),)))
    request = anthropic_surface.parse_request({"model": "gpt-4o", "max_tokens": 50, "stream": True,
                                            "messages": [{"role": "user", "content": "Oslo?"}],
                                            "tools": [ANTHROPIC_TOOL], "tool_choice": {"type": "any"}})
    renderer = anthropic_surface.EventRenderer("msg_x", "gpt-4o")
    stream = b"".join([renderer.render(e) async for e in openai_provider.stream(request, "gpt-4o")])
    stream += renderer.end()
    kinds = [frame.split(b"\n")[0] for frame in stream.split(b"\n\n")[:-1]]
    assert kinds[:3] == [b"event: message_start", b"event: content_block_start", b"event: ping"]
    assert kinds[-2:] == [b"event: message_delta", b"event: message_stop"]
    assert b'"input_json_delta"' in stream and b'"stop_reason":"tool_use"' in stream
