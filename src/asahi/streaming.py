"""Turning streams into results and results into streams.

A streamed answer is cached as its events and also folded into a `ChatResult` (for the ledger, and so a later
non-streaming request can be answered from it). A cached non-streamed answer is replayed to a streaming request
as the events it would have produced.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from asahi.domain import (
    ChatResult,
    Choice,
    FinishEvent,
    FinishReason,
    Message,
    StreamEvent,
    TextDelta,
    TextPart,
    ToolCall,
    ToolCallDelta,
    Usage,
    UsageEvent,
)


@dataclass(slots=True)
class _ToolBuffer:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _ChoiceBuffer:
    text: list[str] = field(default_factory=list)
    tools: dict[int, _ToolBuffer] = field(default_factory=dict)
    finish_reason: FinishReason | None = None


class StreamAccumulator:
    def __init__(self) -> None:
        self.events: list[StreamEvent] = []
        self.usage = Usage()
        self.has_usage = False
        self._choices: dict[int, _ChoiceBuffer] = {}

    def add(self, event: StreamEvent) -> None:
        self.events.append(event)
        if isinstance(event, UsageEvent):
            self.usage = event.usage
            self.has_usage = True
            return
        choice = self._choices.setdefault(event.index, _ChoiceBuffer())
        if isinstance(event, TextDelta):
            choice.text.append(event.text)
        elif isinstance(event, ToolCallDelta):
            tool = choice.tools.setdefault(event.tool_index, _ToolBuffer())
            tool.id = event.id or tool.id
            tool.name = event.name or tool.name
            tool.arguments.append(event.arguments)
        elif isinstance(event, FinishEvent):
            choice.finish_reason = event.finish_reason

    @property
    def complete(self) -> bool:
        """Every choice finished normally: only such answers may be cached."""
        return bool(self._choices) and all(
            c.finish_reason in ("stop", "tool_calls") for c in self._choices.values()
        )

    def result(self, result_id: str, model: str, provider: str) -> ChatResult:
        choices = []
        for index in sorted(self._choices):
            buffer = self._choices[index]
            text = "".join(buffer.text)
            message = Message(
                role="assistant",
                content=[TextPart(text)] if text else [],
                tool_calls=[
                    ToolCall(t.id, t.name, "".join(t.arguments)) for _, t in sorted(buffer.tools.items())
                ],
            )
            choices.append(Choice(index, message, buffer.finish_reason or "stop"))
        return ChatResult(result_id, model, provider, choices, self.usage, int(time.time()))


def finished_cleanly(result: ChatResult) -> bool:
    """Every choice finished normally: only such answers may be cached."""
    return bool(result.choices) and all(c.finish_reason in ("stop", "tool_calls") for c in result.choices)


def events_from_result(result: ChatResult) -> list[StreamEvent]:
    events: list[StreamEvent] = []
    for choice in result.choices:
        if choice.message.text:
            events.append(TextDelta(choice.index, choice.message.text))
        for tool_index, call in enumerate(choice.message.tool_calls):
            events.append(ToolCallDelta(choice.index, tool_index, call.id, call.name, call.arguments))
        events.append(FinishEvent(choice.index, choice.finish_reason))
    events.append(UsageEvent(result.usage))
    return events
