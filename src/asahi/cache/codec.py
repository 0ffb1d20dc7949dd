"""Serialising answers for the caches: a `ChatResult` and, for streamed answers, the events to replay.

Encoding is orjson's own for dataclasses (fast, and it follows the domain types as they grow); decoding rebuilds
the types by hand, since JSON does not say which one a value was. A provider's own fields (logprobs, thinking
blocks, native top-level fields) are cached with the answer, so a hit echoes them as the miss did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from asahi.domain import (
    ChatResult,
    Choice,
    FinishEvent,
    ImagePart,
    LogprobsDelta,
    Message,
    NativePart,
    Part,
    StreamEvent,
    TextDelta,
    TextPart,
    ThinkingDelta,
    ToolCall,
    ToolCallDelta,
    Usage,
    UsageEvent,
)


@dataclass(slots=True)
class CachedAnswer:
    result: ChatResult
    events: list[StreamEvent] | None = None  # present when the answer was streamed: replayed event by event


_EVENT_KINDS: dict[type, str] = {
    TextDelta: "text", ToolCallDelta: "tool", FinishEvent: "finish", UsageEvent: "usage", ThinkingDelta: "thinking",
    LogprobsDelta: "logprobs",
}


def _part(raw: dict[str, Any]) -> Part:
    if "block" in raw:
        return NativePart(raw["family"], raw["block"])
    if "text" in raw:
        return TextPart(raw["text"], raw.get("cache_control", False))
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
    if kind == "usage":
        return UsageEvent(Usage(**raw["usage"]))
    types = {name: cls for cls, name in _EVENT_KINDS.items()}
    event: StreamEvent = types[kind](**raw)
    return event


def _default(value: Any) -> Any:
    raise TypeError(f"cannot cache a {type(value).__name__}")


def _event_dict(event: StreamEvent) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(orjson.dumps(event))
    return {"kind": _EVENT_KINDS[type(event)], **data}


def encode(answer: CachedAnswer) -> bytes:
    events = None if answer.events is None else [_event_dict(e) for e in answer.events]
    return orjson.dumps({"result": answer.result, "events": events}, default=_default)


def decode(blob: bytes) -> CachedAnswer:
    raw = orjson.loads(blob)
    result = raw["result"]
    decoded = ChatResult(
        id=result["id"],
        model=result["model"],
        provider=result["provider"],
        created=result["created"],
        usage=Usage(**result["usage"]),
        choices=[
            Choice(c["index"], _message(c["message"]), c["finish_reason"], c.get("logprobs"))
            for c in result["choices"]
        ],
        family=result.get("family"),
        extras=result.get("extras") or {},
    )
    events = None if raw["events"] is None else [_event(e) for e in raw["events"]]
    return CachedAnswer(decoded, events)
