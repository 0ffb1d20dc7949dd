"""Serialising answers for the caches: a `ChatResult` and, for streamed answers, the events to replay."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from asahi.domain import (
    ChatResult,
    Choice,
    FinishEvent,
    ImagePart,
    Message,
    Part,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
    UsageEvent,
)


@dataclass(slots=True)
class CachedAnswer:
    result: ChatResult
    events: list[StreamEvent] | None = None  # present when the answer was streamed: replayed event by event


def _part(raw: dict[str, Any]) -> Part:
    if "text" in raw:
        return TextPart(raw["text"])
    return ImagePart(url=raw.get("url"), data=raw.get("data"), media_type=raw.get("media_type"))


def _message(raw: dict[str, Any]) -> Message:
    return Message(
        role=raw["role"],
        content=[_part(p) for p in raw["content"]],
        tool_calls=[ToolCall(**call) for call in raw["tool_calls"]],
        tool_call_id=raw.get("tool_call_id"),
        name=raw.get("name"),
        is_error=raw.get("is_error", False),
    )


def _event(raw: dict[str, Any]) -> StreamEvent:
    kind = raw.pop("kind")
    if kind == "text":
        return TextDelta(**raw)
    if kind == "tool":
        return ToolCallDelta(**raw)
    if kind == "finish":
        return FinishEvent(**raw)
    return UsageEvent(Usage(**raw["usage"]))


_KINDS = {TextDelta: "text", ToolCallDelta: "tool", FinishEvent: "finish", UsageEvent: "usage"}


def _event_dict(event: StreamEvent) -> dict[str, Any]:
    if isinstance(event, UsageEvent):
        return {"kind": "usage", "usage": _usage_dict(event.usage)}
    fields = {name: getattr(event, name) for name in event.__dataclass_fields__}
    return {"kind": _KINDS[type(event)], **fields}


def _usage_dict(usage: Usage) -> dict[str, int]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_input_tokens": usage.cached_input_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
    }


def _message_dict(message: Message) -> dict[str, Any]:
    return {
        "role": message.role,
        "content": [
            {"text": p.text} if isinstance(p, TextPart) else {"url": p.url, "data": p.data, "media_type": p.media_type}
            for p in message.content
        ],
        "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.tool_calls],
        "tool_call_id": message.tool_call_id,
        "name": message.name,
        "is_error": message.is_error,
    }


def encode(answer: CachedAnswer) -> bytes:
    result = answer.result
    return orjson.dumps({
        "id": result.id,
        "model": result.model,
        "provider": result.provider,
        "created": result.created,
        "usage": _usage_dict(result.usage),
        "choices": [
            {"index": c.index, "finish_reason": c.finish_reason, "message": _message_dict(c.message)}
            for c in result.choices
        ],
        "events": None if answer.events is None else [_event_dict(e) for e in answer.events],
    })


def decode(blob: bytes) -> CachedAnswer:
    raw = orjson.loads(blob)
    result = ChatResult(
        id=raw["id"],
        model=raw["model"],
        provider=raw["provider"],
        created=raw["created"],
        usage=Usage(**raw["usage"]),
        choices=[Choice(c["index"], _message(c["message"]), c["finish_reason"]) for c in raw["choices"]],
    )
    events = None if raw["events"] is None else [_event(e) for e in raw["events"]]
    return CachedAnswer(result, events)
