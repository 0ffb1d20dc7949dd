"""LangChain's ChatOpenAI and ChatAnthropic: structured output and tool calls."""

from __future__ import annotations

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field

from tests.clients.conftest import Asahi


class Movie(BaseModel):
    title: str
    year: int = Field(ge=1880, le=2030)
    genres: list[str] = Field(min_length=1)


class Review(BaseModel):
    movie: Movie
    stars: int = Field(ge=1, le=5)


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def chat(asahi: Asahi, key: str, surface: str) -> BaseChatModel:
    if surface == "openai":
        return ChatOpenAI(model="asahi-sim-gpt-4o", base_url=asahi.v1, api_key=key)  # type: ignore[arg-type]
    return ChatAnthropic(model="asahi-sim-claude-sonnet-4-5", base_url=asahi.url, api_key=key)  # type: ignore[arg-type]


CLIENTS = {"openai": "LangChain ChatOpenAI", "anthropic": "LangChain ChatAnthropic"}
HOW = {"openai": "with_structured_output (json_schema)", "anthropic": "with_structured_output (tool)"}


@pytest.mark.parametrize("surface", ["openai", "anthropic"])
def test_structured_output(asahi: Asahi, key: str, surface: str, request: pytest.FixtureRequest) -> None:
    request.node.add_marker(pytest.mark.compat(CLIENTS[surface], "structured output", how=HOW[surface]))
    request.node.add_marker(pytest.mark.compat(CLIENTS[surface], "nested models", how="$ref / $defs"))
    review = chat(asahi, key, surface).with_structured_output(Review).invoke(
        f"Review Alien (1979) in one line ({surface}).")
    assert isinstance(review, Review) and isinstance(review.movie, Movie) and review.movie.genres


@pytest.mark.parametrize("surface", ["openai", "anthropic"])
def test_tool_call_then_answer(asahi: Asahi, key: str, surface: str, request: pytest.FixtureRequest) -> None:
    request.node.add_marker(pytest.mark.compat(CLIENTS[surface], "tool call", how="bind_tools, auto"))
    request.node.add_marker(pytest.mark.compat(CLIENTS[surface], "tool loop", how="ToolMessage back"))
    model = chat(asahi, key, surface).bind_tools([multiply])
    question = HumanMessage(f"Please multiply 6 by 7 ({surface}).")
    called = model.invoke([question])
    assert isinstance(called, AIMessage) and [c["name"] for c in called.tool_calls] == ["multiply"]
    call = called.tool_calls[0]
    result = multiply.invoke(call["args"])
    answer = model.invoke([question, called, ToolMessage(str(result), tool_call_id=call["id"])])
    assert not answer.tool_calls and f"multiply returned {result}" in answer.text
