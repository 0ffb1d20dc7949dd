"""The simulator as a provider: deterministic, labelled, realistic usage, streaming, tools, JSON and prompt caching."""

from __future__ import annotations

import time
from typing import Any

import jsonschema
import orjson

from asahi.domain import (
    ChatRequest,
    FinishEvent,
    Message,
    StreamEvent,
    TextDelta,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    UsageEvent,
)
from asahi.providers.base import Account
from asahi.providers.simulator import LABEL, SimulatorProvider

SCHEMA = {"type": "object", "required": ["city", "days"], "properties": {
    "city": {"type": "string"}, "days": {"type": "integer"}, "unit": {"enum": ["C", "F"]}}}
WEATHER = Tool("get_weather", "Current weather in a city.", SCHEMA)
LONG = "Our returns policy, clause by clause. " * 200  # about 1,900 tokens


def ask(text: str = "Explain prompt caching in one paragraph.", **fields: Any) -> ChatRequest:
    return ChatRequest(model="asahi-sim-gpt-4o", messages=[Message("user", [TextPart(text)])], **fields)


def json_format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema, "strict": True}}


async def test_same_request_same_answer_and_labelled() -> None:
    simulator = SimulatorProvider()
    first = await simulator.complete(ask(), "asahi-sim-gpt-4o")
    second = await SimulatorProvider().complete(ask(), "asahi-sim-gpt-4o")
    other = await simulator.complete(ask("Something else entirely"), "asahi-sim-gpt-4o")
    assert first.choices == second.choices and first.usage == second.usage and first.id == second.id
    assert other.choices[0].message.text != first.choices[0].message.text
    assert first.choices[0].message.text.startswith(f"{LABEL} (asahi-sim-gpt-4o) Explain prompt caching")
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
    result = await SimulatorProvider().complete(ask(tools=[WEATHER], tool_choice=ToolChoice("required")), "m")
    call = result.choices[0].message.tool_calls[0]
    jsonschema.validate(orjson.loads(call.arguments), SCHEMA)
    assert call.name == "get_weather" and result.choices[0].finish_reason == "tool_calls"


async def test_auto_calls_the_matching_tool_then_answers_with_its_result() -> None:
    simulator = SimulatorProvider()
    unrelated = await simulator.complete(ask("Write a haiku about autumn.", tools=[WEATHER]), "m")
    assert not unrelated.choices[0].message.tool_calls

    question = ask("What is the weather in Lisbon today?", tools=[WEATHER], tool_choice=ToolChoice("auto"))
    called = await simulator.complete(question, "m")
    call = called.choices[0].message.tool_calls[0]
    assert call.name == "get_weather" and called.choices[0].finish_reason == "tool_calls"

    question.messages += [Message("assistant", [], [call]),
                          Message("tool", [TextPart('{"temp_c": 21}')], tool_call_id=call.id)]
    answered = await simulator.complete(question, "m")
    assert not answered.choices[0].message.tool_calls and answered.choices[0].finish_reason == "stop"
    assert 'get_weather returned {"temp_c": 21}' in answered.choices[0].message.text


async def test_named_tool_and_n_choices() -> None:
    tools = [Tool("a", None, {"type": "object"}), Tool("b", None, SCHEMA)]
    result = await SimulatorProvider().complete(ask(tools=tools, tool_choice=ToolChoice("tool", "b"), n=3), "m")
    assert [c.index for c in result.choices] == [0, 1, 2]
    assert all(c.message.tool_calls[0].name == "b" for c in result.choices)


async def test_json_schema_answers_validate_and_differ_by_request() -> None:
    schema = {"type": "object", "additionalProperties": False, "required": ["title", "steps"], "properties": {
        "title": {"type": "string"},
        "steps": {"type": "array", "minItems": 3, "items": {"$ref": "#/$defs/Step"}}},
        "$defs": {"Step": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}}}
    answers = []
    for question in ("Plan a trip.", "Plan a party."):
        result = await SimulatorProvider().complete(ask(question, response_format=json_format(schema)), "m")
        value = orjson.loads(result.choices[0].message.text)
        jsonschema.validate(value, schema)
        assert LABEL in value["title"] and len(value["steps"]) == 3
        answers.append(value)
    assert answers[0] != answers[1]


async def test_json_object_is_an_object_labelled_inside() -> None:
    result = await SimulatorProvider().complete(ask(response_format={"type": "json_object"}), "m")
    assert orjson.loads(result.choices[0].message.text) == {"asahi_simulator": True, "answer": LABEL}


async def test_json_cut_short_by_max_tokens_says_length() -> None:
    schema = {"type": "object", "properties": {"items": {"type": "array", "minItems": 20,
                                                         "items": {"type": "string"}}}}
    result = await SimulatorProvider().complete(ask(response_format=json_format(schema), max_tokens=8), "m")
    assert result.choices[0].finish_reason == "length" and result.usage.output_tokens == 8


async def test_stream_matches_complete() -> None:
    simulator = SimulatorProvider()
    result = await simulator.complete(ask(), "m")
    events: list[StreamEvent] = [e async for e in simulator.stream(ask(), "m")]
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(texts) > 3 and "".join(texts) == result.choices[0].message.text
    assert events[-2:] == [FinishEvent(0, "stop"), UsageEvent(result.usage)]

    tool_events = [e async for e in simulator.stream(ask(tools=[WEATHER], tool_choice=ToolChoice("required")), "m")]
    calls = [e for e in tool_events if isinstance(e, ToolCallDelta)]
    assert calls[0].name == "get_weather" and orjson.loads("".join(c.arguments for c in calls))


async def test_structured_output_streams_as_json_text_deltas() -> None:
    request = ask(response_format=json_format(SCHEMA), stream=True)
    events = [e async for e in SimulatorProvider().stream(request, "m")]
    texts = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(texts) > 2
    jsonschema.validate(orjson.loads("".join(texts)), SCHEMA)


async def test_prompt_caching_reports_cached_tokens_per_org() -> None:
    simulator = SimulatorProvider()
    request = ChatRequest(model="asahi-sim-gpt-4o", messages=[Message("system", [TextPart(LONG)]),
                                                              Message("user", [TextPart("Where is my order?")])])
    first = await simulator.complete(request, "asahi-sim-gpt-4o", Account("org-a"))
    again = await simulator.complete(request, "asahi-sim-gpt-4o", Account("org-a"))
    other_org = await simulator.complete(request, "asahi-sim-gpt-4o", Account("org-b"))
    operator = await simulator.complete(request, "asahi-sim-gpt-4o")
    assert first.usage.cached_input_tokens == 0
    assert again.usage.cached_input_tokens == again.usage.input_tokens // 128 * 128 >= 1024
    assert other_org.usage.cached_input_tokens == 0 and operator.usage.cached_input_tokens == 0
    assert (await simulator.complete(request, "asahi-sim-gpt-4o")).usage.cached_input_tokens > 0


async def test_prompt_caching_can_be_off_and_leaves_other_models_alone() -> None:
    request = ChatRequest(model="m", messages=[Message("user", [TextPart(LONG)])])
    off = SimulatorProvider(prompt_caching=False)
    on = SimulatorProvider()
    for simulator, model in ((off, "asahi-sim-gpt-4o"), (on, "asahi-sim-llama")):
        await simulator.complete(request, model)
        assert (await simulator.complete(request, model)).usage.cached_input_tokens == 0


async def test_anthropic_models_cache_at_breakpoints_and_report_writes() -> None:
    simulator = SimulatorProvider()
    model = "asahi-sim-claude-sonnet-4-5"
    marked = ChatRequest(model=model, messages=[Message("system", [TextPart(LONG, cache_control=True)]),
                                                Message("user", [TextPart("Where is my order?")])])
    plain = ChatRequest(model=model, messages=[Message("system", [TextPart(LONG)]),
                                               Message("user", [TextPart("Where is my order?")])])
    await simulator.complete(plain, model)
    assert (await simulator.complete(plain, model)).usage.cached_input_tokens == 0  # nothing marked, nothing cached
    written = (await simulator.complete(marked, model)).usage
    read = (await simulator.complete(marked, model)).usage
    assert written.cached_input_tokens == 0 and written.cache_write_tokens > 1024
    assert read.cached_input_tokens == written.cache_write_tokens and read.cache_write_tokens == 0


async def test_tool_call_history_is_part_of_the_prompt() -> None:
    call = ToolCall("c1", "get_weather", '{"city": "Paris"}')
    request = ask(tools=[WEATHER])
    request.messages += [Message("assistant", [], [call]), Message("tool", [TextPart("sunny")], tool_call_id="c1")]
    bare = await SimulatorProvider().complete(ask(tools=[WEATHER]), "m")
    longer = await SimulatorProvider().complete(request, "m")
    assert longer.usage.input_tokens > bare.usage.input_tokens


async def test_latency_is_applied_when_asked() -> None:
    started = time.perf_counter()
    await SimulatorProvider(latency_ms=50).complete(ask(), "m")
    assert time.perf_counter() - started >= 0.045
