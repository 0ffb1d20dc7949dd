"""The Anthropic surface: parsing, rejecting bad shapes, rendering messages, the event sequence and errors."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from anthropic.types import Message as WireMessage

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
from asahi.providers.anthropic.surface import EventRenderer, parse_request, render_error, render_result
from asahi.providers.anthropic.upstream import result_from_wire

TOOL = {"name": "weather", "description": "Weather now",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet-4-5", "max_tokens": 256, "messages": [{"role": "user", "content": "hi"}],
            **fields}


def test_parses_every_field() -> None:
    request = parse_request(body(
        system=[{"type": "text", "text": "Long shared preamble", "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": "Be brief."}],
        messages=[
            {"role": "user", "content": [
                {"type": "text", "text": "Weather?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "QUJD"}},
                {"type": "image", "source": {"type": "url", "url": "https://x/a.png"}},
            ]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": True,
                 "content": [{"type": "text", "text": "failed"}]},
                {"type": "text", "text": "And tomorrow?"},
            ]},
        ],
        tools=[TOOL], tool_choice={"type": "any", "disable_parallel_tool_use": True},
        temperature=0.3, top_p=0.8, top_k=40, stop_sequences=["END"], stream=True, metadata={"user_id": "u7"},
    ))
    system, user, assistant, result1, result2, user2 = request.messages
    assert system.role == "system"
    assert system.content == [TextPart("Long shared preamble", cache_control=True), TextPart("Be brief.")]
    assert user.content[1:] == [ImagePart(data="QUJD", media_type="image/png"), ImagePart(url="https://x/a.png")]
    assert assistant.text == "Checking."
    assert assistant.tool_calls == [ToolCall("toolu_1", "weather", '{"city":"Oslo"}')]
    assert (result1.role, result1.tool_call_id, result1.text, result1.is_error) == ("tool", "toolu_1", "sunny", False)
    assert (result2.tool_call_id, result2.is_error, result2.text) == ("toolu_2", True, "failed")
    assert (user2.role, user2.text) == ("user", "And tomorrow?")
    assert request.tool_choice == ToolChoice("required") and request.parallel_tool_calls is False
    assert (request.max_tokens, request.temperature, request.top_p) == (256, 0.3, 0.8)
    assert (request.stop, request.user, request.stream) == (["END"], "u7", True)


def test_string_system_and_named_tool_choice() -> None:
    request = parse_request(body(system="Be brief.", tools=[TOOL], tool_choice={"type": "tool", "name": "weather"}))
    assert request.messages[0].text == "Be brief."
    assert request.tool_choice == ToolChoice("tool", "weather") and request.parallel_tool_calls is None


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"max_tokens": "10"}, "max_tokens"),
        ({"model": ""}, "model"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": [{"type": "tool_use", "id": "a", "name": "b", "input": {}}]}]},
         "messages[0].content[0].type"),
        ({"messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "b",
                                                          "input": "{}"}]}]}, "messages[0].content[0].input"),
        ({"messages": [{"role": "user", "content": [{"type": "document"}]}]}, "messages[0].content[0].type"),
        ({"messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "file"}}]}]},
         "messages[0].content[0].source.type"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "x",
                                                     "cache_control": {"type": "forever"}}]}]},
         "messages[0].content[0].cache_control.type"),
        ({"system": [{"type": "image"}]}, "system[0].type"),
        ({"system": 5}, "system"),
        ({"temperature": 1.5}, "temperature"),
        ({"top_k": "many"}, "top_k"),
        ({"stop_sequences": "END"}, "stop_sequences"),
        ({"stream": 1}, "stream"),
        ({"metadata": {"user_id": 5}}, "metadata.user_id"),
        ({"tools": [{"name": "f"}]}, "tools[0].input_schema"),
        ({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0].type"),
        ({"tool_choice": {"type": "sometimes"}}, "tool_choice.type"),
        ({"tools": [TOOL], "tool_choice": {"type": "tool", "name": "nope"}}, "tool_choice.name"),
    ],
)
def test_bad_shapes_are_400_naming_the_field(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_request(body(**fields))
    assert caught.value.details["param"] == param


def test_render_result_converts_usage_to_anthropic_split() -> None:
    message = Message("assistant", [TextPart("Let me check.")], [ToolCall("toolu_1", "weather", '{"city":"Oslo"}')])
    result = ChatResult("x", "claude-sonnet-4-5", "anthropic", [Choice(0, message, "tool_calls")],
                        Usage(input_tokens=1000, output_tokens=30, cached_input_tokens=800, cache_write_tokens=150),
                        0)
    rendered = render_result(result, "msg_1")
    assert rendered["content"] == [{"type": "text", "text": "Let me check."},
                                   {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}}]
    assert rendered["stop_reason"] == "tool_use"
    assert rendered["usage"] == {"input_tokens": 50, "output_tokens": 30, "cache_creation_input_tokens": 150,
                                 "cache_read_input_tokens": 800}
    # Through the official SDK's type and back: the same answer and the same (inclusive) usage.
    WireMessage.model_validate(orjson.loads(orjson.dumps(rendered)))  # the SDK accepts what the surface renders
    back = result_from_wire(orjson.loads(orjson.dumps(rendered)))
    assert back.choices == result.choices and back.usage == result.usage


def events_of(stream: bytes) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for frame in stream.split(b"\n\n")[:-1]:
        event_line, data_line = frame.split(b"\n")
        assert event_line.startswith(b"event: ") and data_line.startswith(b"data: ")
        data = orjson.loads(data_line[6:])
        assert data["type"] == event_line[7:].decode()
        out.append((data["type"], data))
    return out


def test_event_sequence_is_exactly_anthropics() -> None:
    renderer = EventRenderer("msg_1", "claude-sonnet-4-5", input_tokens=12)
    events_in: list[StreamEvent] = [
        TextDelta(0, "Let me "), TextDelta(0, "check."),
        ToolCallDelta(0, 0, "toolu_1", "weather", ""), ToolCallDelta(0, 0, None, None, '{"city":'),
        ToolCallDelta(0, 0, None, None, '"Oslo"}'),
        FinishEvent(0, "tool_calls"), UsageEvent(Usage(1000, 30, 800, 150)),
    ]
    stream = b"".join(renderer.render(e) for e in events_in) + renderer.end()
    events = events_of(stream)
    assert [kind for kind, _ in events] == [
        "message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta",
        "content_block_stop", "content_block_start", "content_block_delta", "content_block_delta",
        "content_block_stop", "message_delta", "message_stop",
    ]
    assert events[0][1]["message"]["usage"]["input_tokens"] == 12
    assert events[6][1] == {"type": "content_block_start", "index": 1, "content_block": {
        "type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}}
    assert events[7][1]["delta"] == {"type": "input_json_delta", "partial_json": '{"city":'}
    assert events[10][1]["delta"]["stop_reason"] == "tool_use"
    assert events[10][1]["usage"] == {"input_tokens": 50, "output_tokens": 30, "cache_creation_input_tokens": 150,
                                      "cache_read_input_tokens": 800}


def test_empty_answer_still_has_one_block() -> None:
    renderer = EventRenderer("msg_1", "m")
    kinds = [kind for kind, _ in events_of(renderer.render(FinishEvent(0, "stop")) + renderer.end())]
    assert kinds == ["message_start", "content_block_start", "ping", "content_block_stop", "message_delta",
                     "message_stop"]


@pytest.mark.parametrize(
    ("err", "kind"),
    [
        (BadRequest("bad", param="max_tokens"), "invalid_request_error"),
        (AsahiError(401, "invalid_api_key", "no key"), "authentication_error"),
        (AsahiError(403, "forbidden", "no"), "permission_error"),
        (AsahiError(404, "not_found", "no model"), "not_found_error"),
        (RateLimited("slow down", 3), "rate_limit_error"),
        (ProviderError(502, "provider_error", "upstream", provider="openai"), "api_error"),
        (ProviderError(503, "provider_overloaded", "busy", provider="anthropic"), "overloaded_error"),
    ],
)
def test_errors_use_anthropic_type_names(err: AsahiError, kind: str) -> None:
    assert render_error(err) == {"type": "error", "error": {"type": kind, "message": err.message}}


def test_mid_stream_error_event() -> None:
    frame = EventRenderer("m", "x").error(ProviderError(503, "provider_overloaded", "busy", provider="anthropic"))
    assert events_of(frame) == [("error", {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})]
