"""The official SDKs pointed at Asahi, with the fake providers behind it: plain, streamed and tool calls.

Both SDKs are built on httpx2, so both reach the app through `httpx2.ASGITransport`. Each is run against a model
of its own provider and one of the other, so the pass-through and the translated path are both read by real
client code.
"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2
import openai
import pytest

from tests.fakes.server import Reply
from tests.integration.conftest import CLAUDE, GPT, WEATHER_SCHEMA, Gateway

OSLO = (("weather", {"city": "Oslo"}),)


def upstream_requests(gateway: Gateway, model: str) -> list[Any]:
    fake = gateway.anthropic if model == CLAUDE else gateway.openai
    return [r.body for r in fake.requests]


def script(gateway: Gateway, model: str, *replies: Reply) -> None:
    (gateway.anthropic if model == CLAUDE else gateway.openai).script(*replies)


@pytest.mark.parametrize("model", [GPT, CLAUDE])
async def test_openai_sdk(gateway: Gateway, model: str) -> None:
    client = openai.AsyncOpenAI(
        base_url="http://asahi.test/v1", api_key=gateway.key, max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=gateway.running.app)),
    )
    async with client:
        script(gateway, model, Reply(text="Plain answer.", input_tokens=20, output_tokens=3))
        plain = await client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hello"}])
        assert plain.choices[0].message.content == "Plain answer." and plain.model == model
        assert plain.usage is not None and (plain.usage.prompt_tokens, plain.usage.completion_tokens) == (20, 3)

        script(gateway, model, Reply(text="one two three four five"))
        stream = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "stream it"}], stream=True,
            stream_options={"include_usage": True},
        )
        pieces, usage, finish = [], None, None
        async for chunk in stream:
            for choice in chunk.choices:
                pieces.append(choice.delta.content or "")
                finish = choice.finish_reason or finish
            usage = chunk.usage or usage
        assert "".join(pieces) == "one two three four five" and finish == "stop"
        assert usage is not None and usage.total_tokens == 17

        script(gateway, model, Reply(text="", tool_calls=OSLO), Reply(text="", tool_calls=OSLO))
        tools: Any = [{"type": "function", "function": {"name": "weather", "parameters": WEATHER_SCHEMA}}]
        called = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "weather in Oslo?"}], tools=tools,
            tool_choice="required",
        )
        calls = called.choices[0].message.tool_calls
        assert called.choices[0].finish_reason == "tool_calls" and calls is not None
        assert (calls[0].function.name, calls[0].function.arguments) == ("weather", '{"city":"Oslo"}')  # type: ignore[union-attr]

        stream = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "weather in Oslo, streamed?"}], tools=tools,
            stream=True,
        )
        arguments, names = [], []
        async for chunk in stream:
            for choice in chunk.choices:
                for call in choice.delta.tool_calls or []:
                    assert call.function is not None
                    names.append(call.function.name)
                    arguments.append(call.function.arguments or "")
        assert "".join(arguments) == '{"city":"Oslo"}' and names[0] == "weather"
    assert len(upstream_requests(gateway, model)) == 4


@pytest.mark.parametrize("model", [CLAUDE, GPT])
async def test_anthropic_sdk(gateway: Gateway, model: str) -> None:
    client = anthropic.AsyncAnthropic(
        base_url="http://asahi.test", api_key=gateway.key, max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=gateway.running.app)),
    )
    async with client:
        script(gateway, model, Reply(text="Plain answer.", input_tokens=20, output_tokens=3))
        plain = await client.messages.create(model=model, max_tokens=64,
                                             messages=[{"role": "user", "content": "hello"}])
        assert plain.content[0].type == "text" and plain.content[0].text == "Plain answer."
        assert (plain.usage.input_tokens, plain.usage.output_tokens, plain.stop_reason) == (20, 3, "end_turn")

        script(gateway, model, Reply(text="one two three four five"))
        async with client.messages.stream(
            model=model, max_tokens=64, messages=[{"role": "user", "content": "stream it"}]
        ) as stream:
            text = "".join([piece async for piece in stream.text_stream])
            final = await stream.get_final_message()
        assert text == "one two three four five"
        assert (final.stop_reason, final.usage.input_tokens, final.usage.output_tokens) == ("end_turn", 12, 5)

        script(gateway, model, Reply(text="", tool_calls=OSLO), Reply(text="", tool_calls=OSLO))
        tools: Any = [{"name": "weather", "input_schema": WEATHER_SCHEMA}]
        used = await client.messages.create(
            model=model, max_tokens=64, messages=[{"role": "user", "content": "weather in Oslo?"}], tools=tools,
            tool_choice={"type": "any"},
        )
        assert used.stop_reason == "tool_use"
        block = used.content[-1]
        assert block.type == "tool_use" and (block.name, block.input) == ("weather", {"city": "Oslo"})

        async with client.messages.stream(
            model=model, max_tokens=64, messages=[{"role": "user", "content": "weather in Oslo, streamed?"}],
            tools=tools,
        ) as stream:
            final = await stream.get_final_message()
        block = final.content[-1]
        assert final.stop_reason == "tool_use"
        assert block.type == "tool_use" and (block.name, block.input) == ("weather", {"city": "Oslo"})
    assert len(upstream_requests(gateway, model)) == 4
