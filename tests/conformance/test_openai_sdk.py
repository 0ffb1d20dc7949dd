"""The official `openai` SDK, sync and async, through every OpenAI-shaped endpoint Asahi serves."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from tests.conformance import tables
from tests.conformance.conftest import Served
from tests.fakes.server import Reply

GPT = "gpt-4o-mini"
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
           "additionalProperties": False}


class City(BaseModel):
    city: str


def client(gw: Served) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key=gw.key, max_retries=0)


def aclient(gw: Served) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key=gw.key, max_retries=0)


def test_chat_completions(gw: Served) -> None:
    sdk = client(gw)
    gw.openai.script(Reply(text="Plain.", input_tokens=9, output_tokens=2))
    plain = sdk.chat.completions.create(model=GPT, messages=[{"role": "user", "content": "hi"}], seed=3)
    assert plain.choices[0].message.content == "Plain." and plain.usage and plain.usage.prompt_tokens == 9
    assert gw.openai.last.body["seed"] == 3
    gw.openai.script(Reply(text="one two three"))
    chunks = sdk.chat.completions.create(model=GPT, messages=[{"role": "user", "content": "stream"}], stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "one two three"
    gw.openai.script(Reply(text="", tool_calls=(("weather", {"city": "Oslo"}),)))
    called = sdk.chat.completions.create(
        model=GPT, messages=[{"role": "user", "content": "weather?"}], tool_choice="required",
        tools=[{"type": "function", "function": {"name": "weather", "parameters": WEATHER}}])
    call = called.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "weather" and json.loads(call.function.arguments) == {"city": "Oslo"}  # type: ignore[union-attr]
    gw.openai.script(Reply(text='{"city": "Oslo"}'))
    parsed = sdk.chat.completions.parse(model=GPT, messages=[{"role": "user", "content": "city?"}],
                                        response_format=City)
    assert parsed.choices[0].message.parsed == City(city="Oslo")
    assert gw.openai.last.body["response_format"]["json_schema"]["name"] == "City"
    tables.works("POST /v1/chat/completions", "openai (Python)", "plain", "stream", "tools", "structured")


async def test_chat_completions_async(gw: Served) -> None:
    async with aclient(gw) as sdk:
        gw.openai.script(Reply(text="Async."))
        answer = await sdk.chat.completions.create(model=GPT, messages=[{"role": "user", "content": "async"}])
    assert answer.choices[0].message.content == "Async."
    tables.works("POST /v1/chat/completions", "openai (Python)", "async")


def test_responses(gw: Served) -> None:
    sdk = client(gw)
    gw.openai.script(Reply(text="Hello there.", input_tokens=11, output_tokens=3))
    first = sdk.responses.create(model=GPT, input="Say hello", instructions="Be brief.", metadata={"k": "v"},
                                 max_output_tokens=100)
    assert first.output_text == "Hello there." and first.metadata == {"k": "v"}
    assert first.usage is not None and (first.usage.input_tokens, first.usage.output_tokens) == (11, 3)
    sent = gw.openai.last.body
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello"}]
    assert sent["max_completion_tokens"] == 100
    gw.openai.script(Reply(text="Again."))
    second = sdk.responses.create(model=GPT, input="And again", previous_response_id=first.id)
    assert second.previous_response_id == first.id and second.output_text == "Again."
    assert [m["content"] for m in gw.openai.last.body["messages"]] == ["Say hello", "Hello there.", "And again"]

    gw.openai.script(Reply(text="one two three four"))
    events = list(sdk.responses.create(model=GPT, input="stream it", stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "one two three four"
    assert events[-1].response.output_text == "one two three four"  # type: ignore[union-attr]

    gw.openai.script(Reply(text="", tool_calls=(("weather", {"city": "Oslo"}),)))
    tools: Any = [{"type": "function", "name": "weather", "parameters": WEATHER, "strict": True}]
    called = sdk.responses.create(model=GPT, input="weather in Oslo?", tools=tools, tool_choice="required")
    call = called.output[0]
    assert call.type == "function_call" and call.name == "weather" and json.loads(call.arguments) == {"city": "Oslo"}
    assert gw.openai.last.body["tools"][0]["function"]["name"] == "weather"
    gw.openai.script(Reply(text="It is cold."))
    answered = sdk.responses.create(model=GPT, previous_response_id=called.id, tools=tools, input=[
        {"type": "function_call_output", "call_id": call.call_id, "output": "-3C"}])
    assert answered.output_text == "It is cold."
    assert gw.openai.last.body["messages"][-1] == {"role": "tool", "tool_call_id": call.call_id, "content": "-3C"}

    gw.openai.script(Reply(text='{"city": "Oslo"}'))
    parsed = sdk.responses.parse(model=GPT, input="city?", text_format=City)
    assert parsed.output_parsed == City(city="Oslo")
    assert gw.openai.last.body["response_format"]["type"] == "json_schema"
    tables.works("POST /v1/responses", "openai (Python)", "plain", "stream", "tools", "structured")


async def test_responses_stream_helper_async(gw: Served) -> None:
    async with aclient(gw) as sdk:
        gw.openai.script(Reply(text="", tool_calls=(("weather", {"city": "Rome"}),)))
        tools: Any = [{"type": "function", "name": "weather", "parameters": WEATHER}]
        async with sdk.responses.stream(model=GPT, input="weather in Rome?", tools=tools) as stream:
            final = await stream.get_final_response()
    assert final.output[0].type == "function_call" and json.loads(final.output[0].arguments) == {"city": "Rome"}  # type: ignore[union-attr]
    tables.works("POST /v1/responses", "openai (Python)", "async")


def test_embeddings(gw: Served) -> None:
    sdk = client(gw)
    plain = sdk.embeddings.create(model="text-embedding-3-small", input=["alpha beta", "gamma"])  # base64 on the wire
    assert len(plain.data) == 2 and len(plain.data[0].embedding) == 1536
    assert gw.openai.last.body["input"] == ["alpha beta", "gamma"] and gw.openai.last.body["encoding_format"] == "float"
    again = sdk.embeddings.with_raw_response.create(model="text-embedding-3-small", input=["gamma", "delta"])
    assert again.headers["x-asahi-cache"] == "miss" and gw.openai.last.body["input"] == ["delta"]
    assert again.parse().data[0].embedding == plain.data[1].embedding
    cut = sdk.embeddings.create(model="text-embedding-3-large", input="x y", dimensions=256, encoding_format="float")
    assert len(cut.data[0].embedding) == 256 and gw.openai.last.body["dimensions"] == 256
    local = sdk.embeddings.create(model="asahi-embed-minilm-l6-v2", input="offline")
    assert len(local.data[0].embedding) == 384 and local.usage.prompt_tokens > 0
    tables.works("POST /v1/embeddings", "openai (Python)", "plain")


async def test_embeddings_async(gw: Served) -> None:
    async with aclient(gw) as sdk:
        answer = await sdk.embeddings.create(model="text-embedding-3-small", input="async text")
    assert len(answer.data[0].embedding) == 1536
    tables.works("POST /v1/embeddings", "openai (Python)", "async")


def test_completions(gw: Served) -> None:
    sdk = client(gw)
    gw.openai.script(Reply(text="legacy answer", input_tokens=4, output_tokens=2))
    plain = sdk.completions.create(model="gpt-3.5-turbo-instruct", prompt="Say", max_tokens=5, suffix="!")
    assert plain.choices[0].text == "legacy answer" and gw.openai.last.body["suffix"] == "!"
    cached = sdk.completions.with_raw_response.create(model="gpt-3.5-turbo-instruct", prompt="Say", max_tokens=5,
                                                      suffix="!")
    assert cached.headers["x-asahi-cache"] == "t1" and cached.parse().choices[0].text == "legacy answer"
    gw.openai.script(Reply(text="streamed legacy answer"))
    pieces = sdk.completions.create(model="gpt-3.5-turbo-instruct", prompt="Stream", stream=True)
    assert "".join(c.choices[0].text for c in pieces if c.choices) == "streamed legacy answer"
    tables.works("POST /v1/completions", "openai (Python)", "plain", "stream")


async def test_completions_async(gw: Served) -> None:
    async with aclient(gw) as sdk:
        gw.openai.script(Reply(text="async legacy"))
        answer = await sdk.completions.create(model="gpt-3.5-turbo-instruct", prompt="Async")
    assert answer.choices[0].text == "async legacy"
    tables.works("POST /v1/completions", "openai (Python)", "async")


def test_models(gw: Served) -> None:
    sdk = client(gw)
    ids = [m.id for m in sdk.models.list()]
    assert GPT in ids and "asahi/auto" in ids and any("embed" in i for i in ids)
    assert sdk.models.retrieve("asahi/auto").owned_by == "asahi"
    assert sdk.models.retrieve("text-embedding-3-small").id == "text-embedding-3-small"
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        sdk.models.retrieve("no-such-model")
    tables.works("GET /v1/models, /v1/models/{id}", "openai (Python)", "plain")
