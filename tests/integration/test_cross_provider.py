"""Each surface served by the other provider: what the upstream fake received and the exact wire the client got.

An OpenAI-shaped request for a Claude model goes out as an Anthropic Messages call, and an Anthropic-shaped
request for a GPT model as a Chat Completions call; text and tool calls, whole and streamed.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from tests.fakes.server import Reply
from tests.integration.conftest import CLAUDE, GPT, WEATHER_SCHEMA, Gateway, sse_data, sse_events

OPENAI_TOOL = {"type": "function", "function": {"name": "weather", "description": "Weather now",
                                                "parameters": WEATHER_SCHEMA}}
ANTHROPIC_TOOL = {"name": "weather", "description": "Weather now", "input_schema": WEATHER_SCHEMA}
OSLO = (("weather", {"city": "Oslo"}),)
OPENAI_USAGE = {
    "prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0,
                                  "rejected_prediction_tokens": 0},
}
ANTHROPIC_USAGE = {"input_tokens": 12, "output_tokens": 5, "cache_creation_input_tokens": 0,
                   "cache_read_input_tokens": 0}


def completion(rid: str, message: dict[str, Any], finish: str, created: int) -> dict[str, Any]:
    return {
        "id": rid, "object": "chat.completion", "created": created, "model": CLAUDE,
        "choices": [{"index": 0, "message": {"role": "assistant", "refusal": None, "annotations": [], **message},
                     "logprobs": None, "finish_reason": finish}],
        "usage": OPENAI_USAGE, "service_tier": "default", "system_fingerprint": None,
    }


async def test_openai_request_answered_by_claude(gateway: Gateway) -> None:
    response = await gateway.post("/v1/chat/completions", {
        "model": CLAUDE, "max_tokens": 50, "temperature": 0.2,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}],
    })
    assert response.status_code == 200, response.text
    assert gateway.anthropic.last.body == {
        "model": CLAUDE, "max_tokens": 50, "system": [{"type": "text", "text": "Be brief."}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi there"}]}],
    }
    body = response.json()
    assert abs(body["created"] - time.time()) < 60  # a real Unix time, though Anthropic sends none
    rid = response.headers["x-asahi-request-id"]
    assert body == completion(rid, {"content": "Hello from the fake."}, "stop", body["created"])
    assert response.headers["x-asahi-model"] == CLAUDE and response.headers["x-asahi-cache"] == "miss"
    assert gateway.openai.requests == []


async def test_openai_tool_call_answered_by_claude(gateway: Gateway) -> None:
    gateway.anthropic.script(Reply(text="", tool_calls=OSLO))
    response = await gateway.post("/v1/chat/completions", {
        "model": CLAUDE, "tools": [OPENAI_TOOL], "tool_choice": {"type": "function", "function": {"name": "weather"}},
        "messages": [
            {"role": "user", "content": "Weather in Oslo and Bergen?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_7", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Bergen"}'}}
            ]},
            {"role": "tool", "tool_call_id": "call_7", "content": "rain"},
        ],
    })
    assert response.status_code == 200, response.text
    assert gateway.anthropic.last.body == {
        "model": CLAUDE, "max_tokens": 4096,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather in Oslo and Bergen?"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_7", "name": "weather", "input": {"city": "Bergen"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_7", "content": [{"type": "text", "text": "rain"}]}]},
        ],
        "tools": [{"name": "weather", "input_schema": WEATHER_SCHEMA, "description": "Weather now"}],
        "tool_choice": {"type": "tool", "name": "weather"},
    }
    body = response.json()
    call = {"id": "toolu_0", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Oslo"}'}}
    assert body == completion(response.headers["x-asahi-request-id"], {"content": None, "tool_calls": [call]},
                              "tool_calls", body["created"])


def chunk_parts(chunks: list[Any], rid: str, model: str) -> list[Any]:
    """The choices (or usage) of each chunk, after checking the envelope every chunk shares."""
    parts: list[Any] = []
    for chunk in chunks:
        if chunk == "[DONE]":
            parts.append(chunk)
            continue
        assert (chunk["id"], chunk["object"], chunk["model"]) == (rid, "chat.completion.chunk", model)
        parts.append(chunk["choices"] or {"usage": chunk["usage"]})
    return parts


def delta(content: dict[str, Any], finish: str | None = None) -> list[dict[str, Any]]:
    return [{"index": 0, "delta": content, "logprobs": None, "finish_reason": finish}]


OPENING = delta({"role": "assistant", "content": "", "refusal": None})


async def test_openai_stream_answered_by_claude(gateway: Gateway) -> None:
    response = await gateway.post("/v1/chat/completions", {
        "model": CLAUDE, "messages": [{"role": "user", "content": "Hi there"}], "stream": True,
        "stream_options": {"include_usage": True},
    })
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert gateway.anthropic.last.body == {
        "model": CLAUDE, "max_tokens": 4096, "stream": True,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi there"}]}],
    }
    assert chunk_parts(sse_data(response.text), response.headers["x-asahi-request-id"], CLAUDE) == [
        OPENING, delta({"content": "Hello from "}), delta({"content": "the fake."}), delta({}, "stop"),
        {"usage": OPENAI_USAGE}, "[DONE]",
    ]


async def test_openai_streamed_tool_call_answered_by_claude(gateway: Gateway) -> None:
    gateway.anthropic.script(Reply(text="", tool_calls=OSLO))
    response = await gateway.post("/v1/chat/completions", {
        "model": CLAUDE, "messages": [{"role": "user", "content": "Weather in Oslo?"}], "stream": True,
        "tools": [OPENAI_TOOL], "tool_choice": "required",
    })
    assert gateway.anthropic.last.body["tool_choice"] == {"type": "any"}
    arguments = '{"city":"Oslo"}'
    assert chunk_parts(sse_data(response.text), response.headers["x-asahi-request-id"], CLAUDE) == [
        OPENING,
        delta({"tool_calls": [{"index": 0, "function": {"arguments": "", "name": "weather"}, "id": "toolu_0",
                               "type": "function"}]}),
        delta({"tool_calls": [{"index": 0, "function": {"arguments": arguments[:7]}}]}),
        delta({"tool_calls": [{"index": 0, "function": {"arguments": arguments[7:]}}]}),
        delta({}, "tool_calls"),
        "[DONE]",  # no usage chunk: the client did not ask for one
    ]


def message(rid: str, content: list[dict[str, Any]], stop: str) -> dict[str, Any]:
    return {"id": rid, "type": "message", "role": "assistant", "model": GPT, "content": content,
            "stop_reason": stop, "stop_sequence": None, "usage": ANTHROPIC_USAGE}


async def test_anthropic_request_answered_by_gpt(gateway: Gateway) -> None:
    response = await gateway.post("/v1/messages", {
        "model": GPT, "max_tokens": 100, "system": "Be brief.", "stop_sequences": ["END"],
        "messages": [{"role": "user", "content": "Hi there"}],
    })
    assert response.status_code == 200, response.text
    assert gateway.openai.last.body == {
        "model": GPT, "max_completion_tokens": 100, "stop": ["END"],
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi there"}],
    }
    assert response.json() == message(response.headers["x-asahi-request-id"],
                                      [{"type": "text", "text": "Hello from the fake."}], "end_turn")
    assert gateway.anthropic.requests == []


async def test_anthropic_tool_use_answered_by_gpt(gateway: Gateway) -> None:
    gateway.openai.script(Reply(text="", tool_calls=OSLO))
    response = await gateway.post("/v1/messages", {
        "model": GPT, "max_tokens": 100, "tools": [ANTHROPIC_TOOL], "tool_choice": {"type": "any"},
        "messages": [
            {"role": "user", "content": "Weather in Oslo and Bergen?"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_9", "name": "weather", "input": {"city": "Bergen"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "rain"}]},
        ],
    })
    assert response.status_code == 200, response.text
    assert gateway.openai.last.body == {
        "model": GPT, "max_completion_tokens": 100, "tool_choice": "required",
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": WEATHER_SCHEMA,
                                                    "description": "Weather now"}}],
        "messages": [
            {"role": "user", "content": "Weather in Oslo and Bergen?"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "toolu_9", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Bergen"}'}}
            ]},
            {"role": "tool", "tool_call_id": "toolu_9", "content": "rain"},
        ],
    }
    assert response.json() == message(
        response.headers["x-asahi-request-id"],
        [{"type": "tool_use", "id": "call_0", "name": "weather", "input": {"city": "Oslo"}}], "tool_use",
    )


def stream_start(rid: str, input_tokens: int) -> tuple[str, Any]:
    """Asahi's message_start carries its own estimate of the input tokens; message_delta has the real count."""
    return ("message_start", {"type": "message_start", "message": {
        "id": rid, "type": "message", "role": "assistant", "model": GPT, "content": [], "stop_reason": None,
        "stop_sequence": None, "usage": {"input_tokens": input_tokens, "output_tokens": 1, "cache_creation_input_tokens": 0,
                                         "cache_read_input_tokens": 0}}})


def block_delta(delta: dict[str, Any]) -> tuple[str, Any]:
    return ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})


def stream_end(stop: str) -> list[tuple[str, Any]]:
    return [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                           "usage": ANTHROPIC_USAGE}),
        ("message_stop", {"type": "message_stop"}),
    ]


async def test_anthropic_stream_answered_by_gpt(gateway: Gateway) -> None:
    response = await gateway.post("/v1/messages", {
        "model": GPT, "max_tokens": 100, "stream": True, "messages": [{"role": "user", "content": "Hi there"}],
    })
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    assert gateway.openai.last.body == {
        "model": GPT, "max_completion_tokens": 100, "stream": True, "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "Hi there"}],
    }
    assert sse_events(response.text) == [
        stream_start(response.headers["x-asahi-request-id"], 8),  # "Hi there": 2 tokens, 3 per message, 3 priming
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("ping", {"type": "ping"}),
        block_delta({"type": "text_delta", "text": "Hello from "}),
        block_delta({"type": "text_delta", "text": "the fake."}),
        *stream_end("end_turn"),
    ]


async def test_anthropic_streamed_tool_use_answered_by_gpt(gateway: Gateway) -> None:
    gateway.openai.script(Reply(text="", tool_calls=OSLO))
    response = await gateway.post("/v1/messages", {
        "model": GPT, "max_tokens": 100, "stream": True, "tools": [ANTHROPIC_TOOL],
        "messages": [{"role": "user", "content": "Hi there"}],
    })
    arguments = orjson.dumps({"city": "Oslo"}).decode()
    assert sse_events(response.text) == [
        stream_start(response.headers["x-asahi-request-id"], 30),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {
            "type": "tool_use", "id": "call_0", "name": "weather", "input": {}}}),
        ("ping", {"type": "ping"}),
        block_delta({"type": "input_json_delta", "partial_json": arguments[:7]}),
        block_delta({"type": "input_json_delta", "partial_json": arguments[7:]}),
        *stream_end("tool_use"),
    ]
