"""LangChain's ChatOpenAI (Chat Completions and Responses API) and ChatAnthropic pointed at Asahi."""

from __future__ import annotations

import httpx2
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from pydantic import BaseModel

from tests.conformance import tables
from tests.conformance.conftest import Served
from tests.fakes.server import Reply


class City(BaseModel):
    """A city."""

    city: str


def weather(city: str) -> str:
    """The weather in a city."""
    return f"cold in {city}"


@pytest.mark.parametrize("responses", [False, True], ids=["chat", "responses"])
async def test_chat_openai(gw: Served, responses: bool) -> None:
    endpoint = "POST /v1/responses" if responses else "POST /v1/chat/completions"
    # LangChain shares one default async HTTP client per process; each test's event loop needs its own.
    model = ChatOpenAI(model="gpt-4o-mini", base_url=gw.url + "/v1", api_key=gw.key, max_retries=0,  # type: ignore[arg-type]
                       use_responses_api=responses, temperature=0.2, http_async_client=httpx2.AsyncClient())
    gw.openai.script(Reply(text="Plain answer."))
    assert model.invoke("hello").text == "Plain answer."
    assert gw.openai.last.body["temperature"] == 0.2
    gw.openai.script(Reply(text="one two three"))
    pieces = [chunk.text async for chunk in model.astream("stream")]
    assert "".join(pieces) == "one two three"
    gw.openai.script(Reply(text="", tool_calls=(("weather", {"city": "Oslo"}),)))
    called = await model.bind_tools([weather], tool_choice="weather").ainvoke("weather in Oslo?")
    assert called.tool_calls[0]["name"] == "weather" and called.tool_calls[0]["args"] == {"city": "Oslo"}  # type: ignore[attr-defined]
    gw.openai.script(Reply(text='{"city": "Oslo"}'))
    structured = await model.with_structured_output(City, method="json_schema").ainvoke("city?")
    assert structured == City(city="Oslo")
    tables.works(endpoint, "LangChain ChatOpenAI", "plain", "stream", "tools", "structured", "async")


async def test_chat_anthropic(gw: Served) -> None:
    model = ChatAnthropic(model="claude-haiku-4-5", base_url=gw.url, api_key=gw.key, max_retries=0,  # type: ignore[arg-type,call-arg]
                          max_tokens=64, stop=["END"])
    gw.anthropic.script(Reply(text="Plain answer."))
    assert (await model.ainvoke("hello")).content == "Plain answer."
    assert gw.anthropic.last.body["stop_sequences"] == ["END"]
    gw.anthropic.script(Reply(text="one two three"))
    assert "".join([chunk.text async for chunk in model.astream("stream")]) == "one two three"
    gw.anthropic.script(Reply(text="", tool_calls=(("weather", {"city": "Oslo"}),)))
    called = await model.bind_tools([weather]).ainvoke("weather in Oslo?")
    assert called.tool_calls[0]["args"] == {"city": "Oslo"}  # type: ignore[attr-defined]
    gw.anthropic.script(Reply(text="", tool_calls=(("City", {"city": "Oslo"}),)))
    assert await model.with_structured_output(City).ainvoke("city?") == City(city="Oslo")
    tables.works("POST /v1/messages", "LangChain ChatAnthropic", "plain", "stream", "tools", "structured", "async")


async def test_openai_embeddings(gw: Served) -> None:
    # LangChain tokenises with tiktoken before embedding unless told not to; that needs a download offline.
    embedder = OpenAIEmbeddings(model="text-embedding-3-small", base_url=gw.url + "/v1", api_key=gw.key,  # type: ignore[arg-type]
                                check_embedding_ctx_length=False, max_retries=0, http_async_client=httpx2.AsyncClient())
    vectors = await embedder.aembed_documents(["alpha", "beta"])
    assert len(vectors) == 2 and len(vectors[0]) == 1536
    assert gw.openai.last.body["input"] == ["alpha", "beta"]
    tables.works("POST /v1/embeddings", "LangChain OpenAIEmbeddings", "plain", "async")
