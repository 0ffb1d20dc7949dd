"""The official `anthropic` SDK, sync and async, through the Messages API and token counting."""

from __future__ import annotations

from typing import Any

import anthropic

from tests.conformance import tables
from tests.conformance.conftest import Served
from tests.fakes.server import Reply

CLAUDE = "claude-haiku-4-5"
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def client(gw: Served) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gw.url, api_key=gw.key, max_retries=0)


def test_messages(gw: Served) -> None:
    sdk = client(gw)
    gw.anthropic.script(Reply(text="Plain.", input_tokens=8, output_tokens=2))
    plain = sdk.messages.create(model=CLAUDE, max_tokens=64, stop_sequences=["END"], service_tier="auto", messages=[{"role": "user", "content": "hi"}])
    assert plain.content[0].type == "text" and plain.content[0].text == "Plain." and plain.usage.input_tokens == 8
    assert (gw.anthropic.last.body["stop_sequences"], gw.anthropic.last.body["service_tier"]) == (["END"], "auto")
    gw.anthropic.script(Reply(text="one two three"))
    with sdk.messages.stream(model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": "s"}]) as stream:
        assert "".join(stream.text_stream) == "one two three"
    gw.anthropic.script(Reply(text="", tool_calls=(("weather", {"city": "Oslo"}),)))
    tools: Any = [{"name": "weather", "input_schema": WEATHER}]
    used = sdk.messages.create(model=CLAUDE, max_tokens=64, tools=tools, tool_choice={"type": "any"},
                               messages=[{"role": "user", "content": "weather?"}])
    assert used.content[-1].type == "tool_use" and used.content[-1].input == {"city": "Oslo"}
    gw.anthropic.script(Reply(text='{"city": "Oslo"}'))
    schema = {"type": "json_schema", "schema": {**WEATHER, "additionalProperties": False}}
    structured = sdk.messages.create(model=CLAUDE, max_tokens=64, messages=[{"role": "user", "content": "city?"}],
                                     output_config={"format": schema})  # type: ignore[typeddict-item]
    assert structured.content[0].text == '{"city": "Oslo"}'  # type: ignore[union-attr]
    assert gw.anthropic.last.body["output_config"] == {"format": schema}
    tables.works("POST /v1/messages", "anthropic (Python)", "plain", "stream", "tools", "structured")


async def test_messages_async(gw: Served) -> None:
    async with anthropic.AsyncAnthropic(base_url=gw.url, api_key=gw.key, max_retries=0) as sdk:
        gw.anthropic.script(Reply(text="Async."))
        answer = await sdk.messages.create(model=CLAUDE, max_tokens=16, messages=[{"role": "user", "content": "a"}])
    assert answer.content[0].text == "Async."  # type: ignore[union-attr]
    tables.works("POST /v1/messages", "anthropic (Python)", "async")


def test_count_tokens(gw: Served) -> None:
    sdk = client(gw)
    tools: Any = [{"name": "weather", "input_schema": WEATHER}]
    claude = sdk.messages.with_raw_response.count_tokens(
        model=CLAUDE, system="Be brief.", tools=tools, messages=[{"role": "user", "content": "hello there"}])
    assert claude.headers["x-asahi-token-count"] == "provider" and claude.parse().input_tokens > 0
    assert gw.anthropic.last.path == "/v1/messages/count_tokens" and gw.anthropic.last.body["tools"] == tools
    gpt = sdk.messages.with_raw_response.count_tokens(model="gpt-4o-mini",
                                                      messages=[{"role": "user", "content": "hello world"}])
    assert gpt.headers["x-asahi-token-count"] == "exact" and gpt.parse().input_tokens == 2 + 3 + 3
    tables.works("POST /v1/messages/count_tokens", "anthropic (Python)", "plain")


async def test_count_tokens_async(gw: Served) -> None:
    async with anthropic.AsyncAnthropic(base_url=gw.url, api_key=gw.key, max_retries=0) as sdk:
        counted = await sdk.messages.count_tokens(model=CLAUDE, messages=[{"role": "user", "content": "hi"}])
    assert counted.input_tokens > 0
    tables.works("POST /v1/messages/count_tokens", "anthropic (Python)", "async")
