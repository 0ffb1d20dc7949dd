"""The tool-call rule: the best-matching tool under auto, text after a tool result, never a loop."""

from __future__ import annotations

from asahi.domain import ChatRequest, Message, TextPart, Tool, ToolCall, ToolChoice
from asahi.providers.simulator.tool_use import MAX_TOOL_RESULTS, pick_tool

OBJECT = {"type": "object", "properties": {}}
WEATHER = Tool("get_weather", "Current weather for a city.", OBJECT)
STOCKS = Tool("stockPrice", "Latest share price of a listed company.", OBJECT)
FINAL = Tool("final_result", "The final response which ends this conversation.", OBJECT)


def conversation(*turns: Message, tools: list[Tool], choice: ToolChoice | None = None) -> ChatRequest:
    return ChatRequest(model="m", messages=list(turns), tools=tools, tool_choice=choice)


def user(text: str) -> Message:
    return Message("user", [TextPart(text)])


def round_trip(name: str, n: int = 0) -> list[Message]:
    call = ToolCall(f"call_{n}", name, "{}")
    return [Message("assistant", [], [call]), Message("tool", [TextPart("ok")], tool_call_id=call.id)]


def test_auto_calls_the_tool_sharing_most_words_with_the_question() -> None:
    tools = [WEATHER, STOCKS]
    assert pick_tool(conversation(user("Will I need an umbrella? Check the weather."), tools=tools)) is WEATHER
    assert pick_tool(conversation(user("What's the share price of ACME?"), tools=tools)) is STOCKS
    # Name words count double: "stock" in the name beats two description words elsewhere.
    assert pick_tool(conversation(user("stocks for a city"), tools=tools)) is STOCKS


def test_auto_answers_in_text_when_nothing_matches_or_tools_are_off() -> None:
    tools = [WEATHER, STOCKS]
    assert pick_tool(conversation(user("Write me a poem."), tools=tools)) is None
    assert pick_tool(conversation(user("The weather?"), tools=tools, choice=ToolChoice("none"))) is None
    assert pick_tool(conversation(user("The weather?"), tools=[])) is None


def test_after_a_tool_result_the_answer_is_text() -> None:
    request = conversation(user("The weather in Oslo?"), *round_trip("get_weather"), tools=[WEATHER])
    assert pick_tool(request) is None
    request.messages.append(user("And the weather in Bergen?"))
    assert pick_tool(request) is WEATHER  # a new user turn may call again


def test_a_conversation_full_of_tool_results_answers_in_text() -> None:
    turns = [m for n in range(MAX_TOOL_RESULTS) for m in (user("weather?"), *round_trip("get_weather", n))]
    assert pick_tool(conversation(*turns, user("weather again?"), tools=[WEATHER])) is None


def test_a_named_tool_is_called() -> None:
    request = conversation(user("Write me a poem."), tools=[WEATHER, STOCKS], choice=ToolChoice("tool", "stockPrice"))
    assert pick_tool(request) is STOCKS


def test_required_moves_on_to_a_tool_not_yet_called() -> None:
    tools = [WEATHER, FINAL]
    first = conversation(user("What's the weather in Rome?"), tools=tools, choice=ToolChoice("required"))
    assert pick_tool(first) is WEATHER
    first.messages += round_trip("get_weather")
    assert pick_tool(first) is FINAL
    first.messages += round_trip("final_result", 1)
    assert pick_tool(first) is WEATHER  # every tool called: the best match again
    assert pick_tool(conversation(user("Write me a poem."), tools=tools, choice=ToolChoice("required"))) is WEATHER
