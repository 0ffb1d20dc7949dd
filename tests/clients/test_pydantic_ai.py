"""pydantic-ai: an agent whose function tool runs before its answer, with tool output and with native output."""

from __future__ import annotations

import pytest
from pydantic import BaseModel
from pydantic_ai import Agent, NativeOutput, ToolOutput
from pydantic_ai.messages import ToolReturnPart
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from tests.clients.conftest import Asahi


class CityWeather(BaseModel):
    city: str
    temperature_c: float
    summary: str


def agent(asahi: Asahi, key: str, output: ToolOutput[CityWeather] | NativeOutput[CityWeather]) -> Agent[None, CityWeather]:
    model = OpenAIChatModel("asahi-sim-gpt-4o", provider=OpenAIProvider(base_url=asahi.v1, api_key=key))
    weather: Agent[None, CityWeather] = Agent(model, output_type=output, instructions="Report the weather.")

    @weather.tool_plain
    def get_weather(city: str) -> str:
        """Current weather for a city."""
        return f"Sunny and 21 C in {city}"

    return weather


def tool_returns(result: object) -> list[ToolReturnPart]:
    return [p for m in result.all_messages() for p in m.parts if isinstance(p, ToolReturnPart)]  # type: ignore[attr-defined]


@pytest.mark.compat("pydantic-ai", "tool loop", how="function tool, then output tool")
def test_tool_output(asahi: Asahi, key: str) -> None:
    result = agent(asahi, key, ToolOutput(CityWeather)).run_sync("What is the weather in Paris today?")
    assert isinstance(result.output, CityWeather)
    assert [p.tool_name for p in tool_returns(result)] == ["get_weather", "final_result"]
    assert tool_returns(result)[0].content.startswith("Sunny and 21 C in ")


@pytest.mark.compat("pydantic-ai", "structured output", how="NativeOutput (json_schema)")
def test_native_output(asahi: Asahi, key: str) -> None:
    result = agent(asahi, key, NativeOutput(CityWeather)).run_sync("What is the weather in Oslo right now?")
    assert isinstance(result.output, CityWeather) and result.output.summary
    assert [p.tool_name for p in tool_returns(result)] == ["get_weather"]
