"""The OpenAI surface: parsing every field, rejecting bad shapes, rendering results, chunks and errors."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from asahi.domain import (
    ChatResult,
    Choice,
    FinishEvent,
    ImagePart,
    Message,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    Usage,
    UsageEvent,
)
from asahi.errors import AsahiError, BadRequest, ProviderError, RateLimited
from asahi.providers.openai.surface import ChunkRenderer, parse_request, render_error, render_result
from asahi.providers.openai.upstream import result_from_wire

TOOL = {"type": "function", "function": {"name": "weather", "description": "Weather now",
                                         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], **fields}


def test_parses_every_field() -> None:
    request = parse_request(
        body(
            messages=[
                {"role": "developer", "content": "Be brief."},
                {"role": "system", "content": [{"type": "text", "text": "Be kind."}]},
                {"role": "user", "name": "ann", "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "https://x/cat.png", "detail": "low"}},
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}},
                ]},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            ],
            tools=[TOOL],
            tool_choice={"type": "function", "function": {"name": "weather"}},
            response_format={"type": "json_object"},
            temperature=0.5, top_p=0.9, max_completion_tokens=100, max_tokens=5, n=2, stop="END", seed=7,
            user="u1", stream=True, stream_options={"include_usage": True}, parallel_tool_calls=False,
            metadata={"ignored": "yes"}, store=False, logprobs=False,
        )
    )
    system, system2, user, assistant, tool = request.messages
    assert (system.role, system.text, system2.text) == ("system", "Be brief.", "Be kind.")
    assert user.name == "ann"
    assert user.content == [TextPart("What is this?"), ImagePart(url="https://x/cat.png"),
                            ImagePart(data="QUJD", media_type="image/jpeg")]
    assert assistant.tool_calls == [ToolCall("call_1", "weather", "{}")]
    assert (tool.role, tool.tool_call_id, tool.text) == ("tool", "call_1", "sunny")
    assert request.tools[0].name == "weather" and request.tools[0].description == "Weather now"
    assert request.tool_choice == ToolChoice("tool", "weather")
    assert request.response_format == {"type": "json_object"}
    assert (request.temperature, request.top_p, request.max_tokens, request.n) == (0.5, 0.9, 100, 2)
    assert (request.stop, request.seed, request.user) == (["END"], 7, "u1")
    assert request.stream and request.include_usage and request.parallel_tool_calls is False


def test_defaults_and_plain_forms() -> None:
    request = parse_request(body(stop=["a", "b"], max_tokens=9, tool_choice="auto", response_format={"type": "text"}))
    assert request.stop == ["a", "b"] and request.max_tokens == 9
    assert request.tool_choice == ToolChoice("auto") and request.response_format is None
    assert request.n == 1 and not request.stream and not request.include_usage


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": 3}, "model"),
        ({"messages": []}, "messages"),
        ({"messages": "hi"}, "messages"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user"}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": [{"type": "audio"}]}]}, "messages[0].content[0].type"),
        ({"messages": [{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
         "messages[0].content[0].type"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:xx"}}]}]},
         "messages[0].content[0].image_url.url"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({"messages": [{"role": "assistant", "content": None}]}, "messages[0].content"),
        ({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function",
                                                             "function": {"name": "f", "arguments": {}}}]}]},
         "messages[0].tool_calls[0].function.arguments"),
        ({"temperature": "hot"}, "temperature"),
        ({"temperature": 3}, "temperature"),
        ({"top_p": True}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_completion_tokens": 1.5}, "max_completion_tokens"),
        ({"n": True}, "n"),
        ({"stop": 4}, "stop"),
        ({"stop": ["a", 1]}, "stop[1]"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"seed": "1"}, "seed"),
        ({"user": 1}, "user"),
        ({"stream": "yes"}, "stream"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"stream": True, "stream_options": {"include_usage": 1}}, "stream_options.include_usage"),
        ({"parallel_tool_calls": "no"}, "parallel_tool_calls"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]},
         "tools[0].function.parameters"),
        ({"tools": [{"type": "retrieval"}]}, "tools[0].type"),
        ({"tool_choice": "maybe"}, "tool_choice"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "nope"}}},
         "tool_choice.function.name"),
        ({"response_format": {"type": "yaml"}}, "response_format.type"),
        ({"response_format": {"type": "json_schema"}}, "response_format.json_schema"),
    ],
)
def test_bad_shapes_are_400_naming_the_field(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_request(body(**fields))
    assert caught.value.status == 400
    assert caught.value.details["param"] == param
    assert param in caught.value.message


def test_body_must_be_an_object() -> None:
    with pytest.raises(BadRequest):
        parse_request([1, 2])


def result(**usage: int) -> ChatResult:
    message = Message("assistant", [TextPart("Hi there")], [ToolCall("call_9", "weather", '{"city":"Oslo"}')])
    return ChatResult("x", "gpt-4o", "openai", [Choice(0, message, "tool_calls")], Usage(**usage), 1700000000)


def test_render_result_is_an_exact_chat_completion() -> None:
    rendered = render_result(result(input_tokens=100, output_tokens=20, cached_input_tokens=64), "chatcmpl-1")
    assert rendered["object"] == "chat.completion" and rendered["id"] == "chatcmpl-1"
    assert rendered["choices"][0]["message"]["tool_calls"][0] == {
        "id": "call_9", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Oslo"}'}}
    assert rendered["usage"]["total_tokens"] == 120
    assert rendered["usage"]["prompt_tokens_details"]["cached_tokens"] == 64
    # The official SDK reads it back to the same thing.
    ChatCompletion.model_validate(orjson.loads(orjson.dumps(rendered)))  # the official SDK accepts it
    parsed = result_from_wire(orjson.loads(orjson.dumps(rendered)))
    assert parsed.choices == result().choices
    assert parsed.usage == Usage(100, 20, 64, 0)


def sse_payloads(stream: bytes) -> list[Any]:
    assert stream.endswith(b"\n\n")
    lines = stream.split(b"\n\n")[:-1]
    assert all(line.startswith(b"data: ") for line in lines)
    return [line[6:].decode() if line == b"data: [DONE]" else orjson.loads(line[6:]) for line in lines]


EVENTS: list[StreamEvent] = [
    TextDelta(0, "Hel"),
    TextDelta(0, "lo"),
    ToolCallDelta(0, 0, "call_1", "weather", ""),
    ToolCallDelta(0, 0, None, None, '{"city":'),
    ToolCallDelta(0, 0, None, None, '"Oslo"}'),
    FinishEvent(0, "tool_calls"),
    UsageEvent(Usage(10, 3, 4)),
]


@pytest.mark.parametrize("include_usage", [True, False])
def test_chunks_are_sse_the_sdk_accepts(include_usage: bool) -> None:
    renderer = ChunkRenderer("chatcmpl-1", "gpt-4o", 1700000000, include_usage=include_usage)
    stream = b"".join(renderer.render(e) for e in EVENTS) + renderer.end()
    payloads = sse_payloads(stream)
    assert payloads[-1] == "[DONE]"
    chunks = [ChatCompletionChunk.model_validate(p) for p in payloads[:-1]]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello"
    assert chunks[3].choices[0].delta.tool_calls[0].function.name == "weather"  # type: ignore[index,union-attr]
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish[0].choices[0].finish_reason == "tool_calls"
    if include_usage:
        assert all("usage" in p for p in payloads[:-1])
        assert chunks[-1].choices == [] and chunks[-1].usage is not None
        assert chunks[-1].usage.prompt_tokens_details.cached_tokens == 4  # type: ignore[union-attr]
    else:
        assert all(c.choices for c in chunks) and all("usage" not in p for p in payloads[:-1])


@pytest.mark.parametrize(
    ("err", "kind"),
    [
        (BadRequest("bad temperature", param="temperature"), "invalid_request_error"),
        (AsahiError(401, "invalid_api_key", "no key"), "authentication_error"),
        (AsahiError(403, "forbidden", "no"), "permission_error"),
        (AsahiError(404, "not_found", "no model"), "not_found_error"),
        (RateLimited("slow down", 3), "rate_limit_error"),
        (ProviderError(502, "provider_error", "upstream", provider="openai"), "api_error"),
    ],
)
def test_errors_use_openai_type_names(err: AsahiError, kind: str) -> None:
    rendered = render_error(err)
    assert rendered == {"error": {"message": err.message, "type": kind, "param": err.details.get("param"),
                                  "code": err.code}}


def test_mid_stream_error_is_a_data_event() -> None:
    event = ChunkRenderer.error(ProviderError(503, "provider_overloaded", "busy", provider="anthropic"))
    assert event.startswith(b"data: {") and event.endswith(b"\n\n")
    assert orjson.loads(event[6:])["error"]["code"] == "provider_overloaded"
