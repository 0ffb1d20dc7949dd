"""What the simulator says: labelled prose, tool results echoed, JSON for the schema the prompt carries."""

from __future__ import annotations

import json

import jsonschema
import orjson

from asahi.domain import ChatRequest, Message, TextPart, ToolCall
from asahi.providers.simulator.answers import LABEL, prose, structured
from asahi.routing.online.labels import judge_prompt, verdict_loss

SCHEMA = {"type": "object", "required": ["name", "age"], "properties": {"name": {"type": "string"},
                                                                       "age": {"type": "integer"}}}


def test_prose_names_the_model_and_the_question() -> None:
    request = ChatRequest(model="m", messages=[Message("user", [TextPart("How do tides work on Earth?")])])
    text = prose(request, "asahi-sim-gpt-4o", seed=3, words=5, finished=True)
    assert text.startswith(f"{LABEL} (asahi-sim-gpt-4o) How do tides work on Earth?: ") and text.endswith(".")
    assert len(text.split(": ", 1)[1].split()) == 5
    assert not prose(request, "m", seed=3, words=5, finished=False).endswith(".")


def test_prose_after_tool_results_says_what_each_tool_returned() -> None:
    calls = [ToolCall("a", "get_weather", "{}"), ToolCall("b", "get_time", "{}")]
    request = ChatRequest(model="m", messages=[
        Message("user", [TextPart("Weather and time in Oslo?")]), Message("assistant", [], calls),
        Message("tool", [TextPart("rain,\n 8C")], tool_call_id="a"), Message("tool", [TextPart("09:00")], tool_call_id="b")])
    text = prose(request, "m", seed=0, words=0, finished=True)
    assert "get_weather returned rain, 8C; get_time returned 09:00." in text


def test_json_object_follows_a_schema_given_in_the_prompt() -> None:
    system = f"Answer with JSON matching this json_schema:\n\n{json.dumps(SCHEMA, indent=2)}\n\nNo prose."
    request = ChatRequest(model="m", response_format={"type": "json_object"},
                          messages=[Message("system", [TextPart(system)]), Message("user", [TextPart("Alice, 30")])])
    text = structured(request, seed=1)
    assert text is not None
    jsonschema.validate(orjson.loads(text), SCHEMA)


def test_plain_requests_get_no_json() -> None:
    assert structured(ChatRequest(model="m", messages=[Message("user", [TextPart("{}")])]), seed=1) is None


def test_a_judge_prompt_gets_a_verdict_that_routing_can_read() -> None:
    judged = ChatRequest(model="m", messages=[Message("user", [TextPart(judge_prompt("Why?", "one", "two", True))])])
    assert verdict_loss(prose(judged, "m", seed=2, words=4, finished=True), cheap_first=True) == 0.0  # a tie
    plain = ChatRequest(model="m", messages=[Message("user", [TextPart("Which is better, A or B?")])])
    assert "[[" not in prose(plain, "m", seed=2, words=4, finished=True)
