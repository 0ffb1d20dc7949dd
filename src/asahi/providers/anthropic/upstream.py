"""The Anthropic Messages format as a client: the body Asahi sends, and the answers and events it reads.

OpenAI-shaped requests need translating: system messages are hoisted into `system`, tool results become
`tool_result` blocks inside user turns, JSON response formats become a system instruction (Anthropic has no
such parameter), sampling parameters are dropped, and `n > 1` is refused because Anthropic answers once per call.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from asahi.domain import (
    ChatRequest,
    ChatResult,
    Choice,
    FinishEvent,
    FinishReason,
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
from asahi.errors import BadRequest
from asahi.providers.anthropic.surface import tool_input
from asahi.providers.upstream_errors import InvalidResponse

_EPHEMERAL = {"type": "ephemeral"}
_JSON_INSTRUCTION = "Reply with one valid JSON object and nothing else: no prose, no code fences."


def _block(part: Part) -> dict[str, Any]:
    if isinstance(part, TextPart):
        block: dict[str, Any] = {"type": "text", "text": part.text}
        if part.cache_control:
            block["cache_control"] = _EPHEMERAL
        return block
    return {"type": "image", "source": _image_source(part)}


def _image_source(part: ImagePart) -> dict[str, Any]:
    if part.url is not None:
        return {"type": "url", "url": part.url}
    return {"type": "base64", "media_type": part.media_type or "image/png", "data": part.data}


def _blocks(message: Message) -> list[dict[str, Any]]:
    # Anthropic rejects empty text blocks, which OpenAI clients send freely (e.g. beside tool calls).
    blocks = [_block(p) for p in message.content if not isinstance(p, TextPart) or p.text]
    if message.role == "tool":
        result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
        if blocks:
            result["content"] = blocks
        if message.is_error:
            result["is_error"] = True
        return [result]
    blocks += [
        {"type": "tool_use", "id": c.id, "name": c.name, "input": tool_input(c.arguments)} for c in message.tool_calls
    ]
    return blocks


def _system(request: ChatRequest) -> list[dict[str, Any]]:
    blocks = [_block(p) for m in request.messages if m.role == "system" for p in m.content if isinstance(p, TextPart)]
    response_format = request.response_format or {}
    if response_format.get("type") == "json_object":
        blocks.append({"type": "text", "text": _JSON_INSTRUCTION})
    elif response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema") or {}
        text = f"{_JSON_INSTRUCTION} It must match this JSON schema: {orjson.dumps(schema).decode()}"
        blocks.append({"type": "text", "text": text})
    return blocks


def _turns(request: ChatRequest) -> list[dict[str, Any]]:
    """Conversation turns; consecutive same-role turns merge, so tool results share one user turn."""
    turns: list[dict[str, Any]] = []
    for message in request.messages:
        if message.role == "system":
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = _blocks(message)
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return turns


def _tool_choice(request: ChatRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    wire: dict[str, Any] | None = None
    if choice is not None:
        wire = {"type": {"auto": "auto", "none": "none", "required": "any", "tool": "tool"}[choice.mode]}
        if choice.mode == "tool":
            wire["name"] = choice.name
    if request.parallel_tool_calls is False and request.tools:
        wire = wire or {"type": "auto"}
        if wire["type"] != "none":
            wire["disable_parallel_tool_use"] = True
    return wire


def to_wire(request: ChatRequest, model: str, *, stream: bool, default_max_tokens: int = 4096) -> dict[str, Any]:
    """The `/v1/messages` body; `max_tokens` is mandatory there, so a default fills it.

    temperature, top_p and seed are not sent: the current Messages API (and its SDK) takes no sampling
    parameters, and they are hints whose loss is better than a refused request.
    """
    if request.n != 1:
        raise BadRequest("Anthropic models answer once per request; 'n' must be 1.", param="n")
    wire: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens or default_max_tokens,
        "messages": _turns(request),
    }
    if system := _system(request):
        wire["system"] = system
    if request.tools:
        wire["tools"] = [
            {"name": t.name, "input_schema": t.parameters, **({"description": t.description} if t.description else {})}
            for t in request.tools
        ]
    if (tool_choice := _tool_choice(request)) is not None:
        wire["tool_choice"] = tool_choice
    if request.stop:
        wire["stop_sequences"] = request.stop
    if request.user is not None:
        wire["metadata"] = {"user_id": request.user}
    if stream:
        wire["stream"] = True
    return wire


def usage_from_wire(usage: dict[str, Any] | None, base: Usage | None = None) -> Usage:
    """Asahi's usage from Anthropic's, whose `input_tokens` leaves out cache reads and writes.

    A stream's message_delta may omit input counts; `base` (from message_start) fills them in.
    """
    base = base or Usage()
    usage = usage or {}
    read = usage.get("cache_read_input_tokens")
    write = usage.get("cache_creation_input_tokens")
    read = base.cached_input_tokens if read is None else read
    write = base.cache_write_tokens if write is None else write
    uncached = usage.get("input_tokens")
    total = base.input_tokens if uncached is None else uncached + read + write
    return Usage(input_tokens=total, output_tokens=usage.get("output_tokens") or 0, cached_input_tokens=read,
                 cache_write_tokens=write)


_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def result_from_wire(message: dict[str, Any], provider: str = "anthropic") -> ChatResult:
    """A `message` body, read as plain JSON. Anything else is not an answer (it would be billed $0)."""
    content = message.get("content")
    if message.get("type") != "message" or not isinstance(content, list):
        raise InvalidResponse("a message needs type 'message' and a 'content' array")
    parts: list[Part] = []
    calls: list[ToolCall] = []
    for block in content:
        if block.get("type") == "text":
            parts.append(TextPart(block.get("text") or ""))
        elif block.get("type") == "tool_use":
            calls.append(ToolCall(block["id"], block["name"], orjson.dumps(block.get("input") or {}).decode()))
    finish = _FINISH.get(message.get("stop_reason") or "", "stop")
    return ChatResult(
        id=message.get("id", ""),
        model=message.get("model", ""),
        provider=provider,
        choices=[Choice(0, Message("assistant", parts, calls), finish)],
        usage=usage_from_wire(message.get("usage")),
        created=int(time.time()),  # Anthropic sends no creation time; OpenAI clients expect a real one
    )


class MessageEventTranslator:
    """Anthropic stream events to Asahi `StreamEvent`s; content blocks are numbered, tool calls counted."""

    def __init__(self) -> None:
        self.done = False
        self._usage = Usage()
        self._finish: FinishReason = "stop"
        self._tools: dict[int, int] = {}  # content block index -> tool_index

    def translate(self, data: dict[str, Any], event: str | None = None) -> list[StreamEvent]:
        """One stream event's JSON (its `type` names it; the SSE event name repeats it)."""
        kind = data.get("type")
        if kind == "message_start":
            self._usage = usage_from_wire((data.get("message") or {}).get("usage"))
        elif kind == "content_block_start":
            block = data.get("content_block") or {}
            if block.get("type") == "tool_use":
                tool_index = self._tools[data.get("index", 0)] = len(self._tools)
                return [ToolCallDelta(0, tool_index, block.get("id"), block.get("name"), "")]
            if block.get("type") == "text" and block.get("text"):
                return [TextDelta(0, block["text"])]
        elif kind == "content_block_delta":
            delta = data.get("delta") or {}
            if delta.get("type") == "text_delta":
                return [TextDelta(0, delta.get("text") or "")]
            if delta.get("type") == "input_json_delta" and data.get("index") in self._tools:
                return [ToolCallDelta(0, self._tools[data["index"]], None, None, delta.get("partial_json") or "")]
        elif kind == "message_delta":
            self._usage = usage_from_wire(data.get("usage"), self._usage)
            self._finish = _FINISH.get((data.get("delta") or {}).get("stop_reason") or "", "stop")
        elif kind == "message_stop":
            self.done = True
            return [FinishEvent(0, self._finish), UsageEvent(self._usage)]
        return []

    @staticmethod
    def finish() -> list[StreamEvent]:
        return []
