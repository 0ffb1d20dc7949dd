"""The simulator: deterministic, labelled, realistic usage, streaming, tool calls and truncation."""

from __future__ import annotations

import time

import orjson

from asahi.domain import (
    ChatRequest,
    FinishEvent,
    Message,
    StreamEvent,
    TextDelta,
    TextPart,
    Tool,
    ToolCallDelta,
    ToolChoice,
    UsageEvent,
)
from asahi.providers.simulator import LABEL, SimulatorProvider

SCHEMA = {"type": "object", "required": ["city", "days"], "properties": {
    "city": {"type": "string"}, "days": {"type": "integer"}, "unit": {"enum": ["C", "F"]}}}


def ask(text: str = "Explain prompt caching in one paragraph.", **fields: object) -> ChatRequest:
    return ChatRequest(model="asahi-sim-gpt-4o", messages=[Message("user", [TextPart(text)])],
                       **fields)  # type: ignore[arg-type]


async def test_same_request_same_answer_and_labelled() -> None:
    simulator = SimulatorProvider()
    first = await simulator.complete(ask(), "asahi-sim-gpt-4o")
    second = await SimulatorProvider().complete(ask(), "asahi-sim-gpt-4o")
    other = await simulator.complete(ask("Something else entirely"), "asahi-sim-gpt-4o")
    assert first.choices == second.choices and first.usage == second.usage and first.id == second.id
    assert other.choices[0].message.text != first.choices[0].message.text
    assert first.choices[0].message.text.startswith(LABEL)
    assert first.provider == "simulator" and first.choices[0].finish_reason == "stop"


async def test_usage_is_realistic() -> None:
    short = await SimulatorProvider(output_tokens=48).complete(ask("hi"), "m")
    long = await SimulatorProvider(output_tokens=48).complete(ask("word " * 400), "m")
    assert 0 < short.usage.input_tokens < 20
    assert 450 < long.usage.input_tokens < 560  # 2000 characters, about 500 tokens
    assert short.usage.output_tokens == 48


async def test_max_tokens_truncates_with_length() -> None:
    result = await SimulatorProvider(output_tokens=48).complete(ask(max_tokens=10), "m")
    assert result.choices[0].finish_reason == "length" and result.usage.output_tokens == 10
    assert result.choices[0].message.text.startswith(LABEL)


async def test_required_tool_choice_gives_schema_valid_arguments() -> None:
    tools = [Tool("weather", None, SCHEMA)]
    result = await SimulatorProvider().complete(ask(tools=tools, tool_choice=ToolChoice("required")), "m")
    call = result.choices[0].message.tool_calls[0]
    arguments = orjson.loads(call.arguments)
    assert call.name == "weather" and set(arguments) == {"city", "days"}
    assert isinstance(arguments["city"], str) and isinstance(arguments["days"], int)
    assert result.choices[0].finish_reason == "tool_calls"
    auto = await SimulatorProvider().complete(ask(tools=tools, tool_choice=ToolChoice("auto")), "m")
    assert not auto.choices[0].message.tool_calls


async def test_named_tool_and_n_choices() -> None:
    tools = [Tool("a", None, {"type": "object"}), Tool("b", None, SCHEMA)]
    result = await SimulatorProvider().complete(ask(tools=tools, tool_choice=ToolChoice("tool", "b"), n=3), "m")
    assert [c.index for c in result.choices] == [0, 1, 2]
    assert all(c.message.tool_calls[0].name == "b" for c in result.choices)


async def test_json_mode_returns_json() -> None:
    result = await SimulatorProvider().complete(ask(response_format={"type": "json_object"}), "m")
    assert orjson.loads(result.choices[0].message.text)["answer"].startswith(LABEL)


async def test_stream_matches_complete() -> None:
    simulator = SimulatorProvider()
    result = await simulator.complete(ask(), "m")
    events: list[StreamEvent] = [e async for e in simulator.stream(ask(), "m")]
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(texts) > 3 and "".join(texts) == result.choices[0].message.text
    assert events[-2:] == [FinishEvent(0, "stop"), UsageEvent(result.usage)]

    tools = [Tool("weather", None, SCHEMA)]
    tool_events = [e async for e in simulator.stream(ask(tools=tools, tool_choice=ToolChoice("required")), "m")]
    calls = [e for e in tool_events if isinstance(e, ToolCallDelta)]
    assert calls[0].name == "weather" and orjson.loads("".join(c.arguments for c in calls))


async def test_latency_is_applied_only_when_asked() -> None:
    started = time.perf_counter()
    await SimulatorProvider(latency_ms=50).complete(ask(), "m")
    assert time.perf_counter() - started >= 0.045
    started = time.perf_counter()
    for _ in range(200):
        await SimulatorProvider().complete(ask(), "m")
    assert time.perf_counter() - started < 0.5
