"""The OpenAI Chat Completions format as a client: the body Asahi sends, and the answers and chunks it reads."""

from __future__ import annotations

from typing import Any

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
from asahi.providers.upstream_errors import InvalidResponse


def _part(part: Part) -> dict[str, Any]:
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    url = part.url if part.url is not None else f"data:{part.media_type or 'image/png'};base64,{part.data}"
    return {"type": "image_url", "image_url": {"url": url}}


def _content(message: Message) -> str | list[dict[str, Any]]:
    if any(isinstance(p, ImagePart) for p in message.content):
        return [_part(p) for p in message.content]
    return message.text


def _message(message: Message) -> dict[str, Any]:
    if message.role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": message.text}
    wire: dict[str, Any] = {"role": message.role, "content": _content(message)}
    if message.name is not None:
        wire["name"] = message.name
    if message.tool_calls:
        wire["content"] = message.text or None
        wire["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in message.tool_calls
        ]
    return wire


def to_wire(
    request: ChatRequest, model: str, *, stream: bool, max_tokens_field: str = "max_completion_tokens"
) -> dict[str, Any]:
    """The `/chat/completions` body.

    `max_tokens_field` exists because OpenAI's newer models only accept `max_completion_tokens` while many
    OpenAI-compatible servers still only read `max_tokens`. Streams always ask for usage: the ledger needs it.
    """
    wire: dict[str, Any] = {"model": model, "messages": [_message(m) for m in request.messages]}
    if request.tools:
        wire["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "parameters": t.parameters,
                    **({"description": t.description} if t.description is not None else {}),
                },
            }
            for t in request.tools
        ]
        if request.parallel_tool_calls is not None:
            wire["parallel_tool_calls"] = request.parallel_tool_calls
    if request.tool_choice is not None:
        choice = request.tool_choice
        wire["tool_choice"] = (
            {"type": "function", "function": {"name": choice.name}} if choice.mode == "tool" else choice.mode
        )
    optional = {
        "response_format": request.response_format,
        "temperature": request.temperature,
        "top_p": request.top_p,
        max_tokens_field: request.max_tokens,
        "seed": request.seed,
        "user": request.user,
        "prompt_cache_key": request.prompt_cache_key,
    }
    wire.update((k, v) for k, v in optional.items() if v is not None)
    if request.n != 1:
        wire["n"] = request.n
    if request.stop:
        wire["stop"] = request.stop
    if stream:
        wire["stream"] = True
        wire["stream_options"] = {"include_usage": True}
    return wire


def usage_from_json(usage: dict[str, Any] | None) -> Usage:
    if not usage:
        return Usage()
    details = usage.get("prompt_tokens_details") or {}
    completion = usage.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        cached_input_tokens=int(details.get("cached_tokens") or 0),
        reasoning_tokens=int(completion.get("reasoning_tokens") or 0),
    )


def _finish(reason: str | None) -> FinishReason:
    if reason in ("length", "tool_calls", "content_filter"):
        return reason  # type: ignore[return-value]
    # The legacy "function_call" is a tool call in Asahi's terms; anything else ended normally.
    return "tool_calls" if reason == "function_call" else "stop"


def result_from_wire(completion: dict[str, Any], provider: str = "openai") -> ChatResult:
    """A chat.completion body, read as plain JSON. One without choices is not an answer (it would be billed $0)."""
    raw_choices = completion.get("choices")
    if not isinstance(raw_choices, list) or not raw_choices:
        raise InvalidResponse("a chat.completion needs a non-empty 'choices' array")
    choices = []
    for choice in raw_choices:
        wire = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(wire, dict):
            raise InvalidResponse("each choice needs a 'message' object")
        text = wire.get("content")
        content: list[Part] = [TextPart(text)] if text else []
        calls = [
            ToolCall(c["id"], c["function"]["name"], c["function"].get("arguments") or "")
            for c in wire.get("tool_calls") or []
            if c.get("type") == "function"
        ]
        choices.append(
            Choice(choice.get("index", 0), Message("assistant", content, calls), _finish(choice.get("finish_reason")))
        )
    return ChatResult(
        id=completion.get("id", ""),
        model=completion.get("model", ""),
        provider=provider,
        choices=choices,
        usage=usage_from_json(completion.get("usage")),
        created=completion.get("created", 0),
    )


def events_from_chunk(chunk: dict[str, Any]) -> list[StreamEvent]:
    """One `chat.completion.chunk`, read as plain JSON for the same reason as `result_from_wire`."""
    events: list[StreamEvent] = []
    for choice in chunk.get("choices") or []:
        index = choice.get("index", 0)
        delta = choice.get("delta") or {}
        if delta.get("content"):
            events.append(TextDelta(index, delta["content"]))
        for call in delta.get("tool_calls") or []:
            function = call.get("function") or {}
            events.append(
                ToolCallDelta(
                    index=index,
                    tool_index=call.get("index", 0),
                    id=call.get("id"),
                    name=function.get("name"),
                    arguments=function.get("arguments") or "",
                )
            )
        if choice.get("finish_reason") is not None:
            events.append(FinishEvent(index, _finish(choice["finish_reason"])))
    if chunk.get("usage") is not None:
        events.append(UsageEvent(usage_from_json(chunk["usage"])))
    return events
