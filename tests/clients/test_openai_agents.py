"""The OpenAI Agents SDK on its chat-completions model: a tool loop, and a typed final output."""

from __future__ import annotations

import pytest
from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool, set_tracing_disabled
from openai import AsyncOpenAI
from pydantic import BaseModel

from tests.clients.conftest import Asahi

set_tracing_disabled(True)  # traces would go to OpenAI's servers


class Forecast(BaseModel):
    city: str
    high_c: int
    rain: bool


@function_tool
def get_weather(city: str) -> str:
    """Current weather for a city."""
    return f"Rain and 14 C in {city}"


def model(asahi: Asahi, key: str) -> OpenAIChatCompletionsModel:
    return OpenAIChatCompletionsModel("asahi-sim-gpt-4o", AsyncOpenAI(base_url=asahi.v1, api_key=key))


@pytest.mark.compat("OpenAI Agents SDK", "tool loop", how="function_tool")
async def test_tool_loop(asahi: Asahi, key: str) -> None:
    weather = Agent(name="weather", instructions="Answer weather questions.", tools=[get_weather],
                    model=model(asahi, key))
    result = await Runner.run(weather, "What's the weather in Tokyo?")
    calls = [item for item in result.new_items if item.type == "tool_call_output_item"]
    assert len(calls) == 1 and calls[0].output.startswith("Rain and 14 C in ")
    assert "get_weather returned Rain and 14 C in " in result.final_output


@pytest.mark.compat("OpenAI Agents SDK", "structured output", how="output_type, after a tool")
async def test_output_type(asahi: Asahi, key: str) -> None:
    forecaster = Agent(name="forecaster", instructions="Forecast.", tools=[get_weather], output_type=Forecast,
                       model=model(asahi, key))
    result = await Runner.run(forecaster, "Give me the weather forecast for Bergen.")
    assert isinstance(result.final_output, Forecast)
    assert any(item.type == "tool_call_output_item" for item in result.new_items)
