"""The Anthropic Messages format as a surface: parse what clients send, render what they expect back.

Two conversions need care. Anthropic puts tool results inside user messages; Asahi has one `tool` message per
result, so a user turn is split into its tool results followed by whatever text or images remain. And
Anthropic's `input_tokens` excludes prompt-cache reads and writes while `Usage.input_tokens` includes them.
"""

from __future__ import annotations

from typing import Any

import orjson

from asahi.domain import (
    ChatRequest,
    ChatResult,
    FinishEvent,
    FinishReason,
    ImagePart,
    LogprobsDelta,
    Message,
    NativePart,
    Part,
    Reasoning,
    StreamEvent,
    TextDelta,
    TextPart,
    ThinkingDelta,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    Usage,
    UsageEvent,
)
from asahi.errors import AsahiError
from asahi.providers.fields import (
    array,
    bad,
    mapping,
    opt_bool,
    opt_int,
    opt_number,
    opt_string,
    string,
)

_TOOL_CHOICES = {"auto": "auto", "any": "required", "tool": "tool", "none": "none"}
_MODELLED = frozenset({
    "model", "max_tokens", "messages", "system", "tools", "tool_choice", "stop_sequences", "stream", "temperature",
    "top_p", "top_k",
})


def parse_request(body: Any) -> ChatRequest:
    """Validate an Anthropic `/v1/messages` body and translate it; raise `BadRequest` on bad shape."""
    body = mapping(body, "body")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad("model", "a model name is required.")
    max_tokens = opt_int(body.get("max_tokens"), "max_tokens", 1)
    if max_tokens is None:
        raise bad("max_tokens", "max_tokens is required.")
    raw_messages = array(body.get("messages"), "messages")
    if not raw_messages:
        raise bad("messages", "at least one message is required.")
    messages = _system(body.get("system"))
    for i, raw in enumerate(raw_messages):
        messages.extend(_turn(raw, f"messages[{i}]"))
    tools = [_tool(t, f"tools[{i}]") for i, t in enumerate(array(body.get("tools") or [], "tools"))]
    tool_choice, parallel = _tool_choice(body.get("tool_choice"), tools)
    user = None
    if body.get("metadata") is not None:
        user = opt_string(mapping(body["metadata"], "metadata").get("user_id"), "metadata.user_id")
    stops = array(body.get("stop_sequences") or [], "stop_sequences")
    # Everything else (thinking, output_config, metadata, service_tier, ...) goes to Anthropic as it came;
    # `thinking` and `output_config.format` are also read, so routing and other providers can honour them.
    return ChatRequest(
        model=model,
        messages=messages,
        tools=tools,
        tool_choice=tool_choice,
        temperature=opt_number(body.get("temperature"), "temperature", 0, 1),
        top_p=opt_number(body.get("top_p"), "top_p", 0, 1),
        max_tokens=max_tokens,
        stop=[string(s, f"stop_sequences[{i}]") for i, s in enumerate(stops)],
        user=user,
        stream=bool(opt_bool(body.get("stream"), "stream")),
        parallel_tool_calls=parallel,
        top_k=opt_int(body.get("top_k"), "top_k", 0),
        reasoning=_thinking(body.get("thinking")),
        response_format=_output_format(body.get("output_config")),
        family="anthropic",
        extras={k: v for k, v in body.items() if k not in _MODELLED},
    )


def _thinking(raw: Any) -> Reasoning | None:
    """`enabled` with a budget, `adaptive` (the model decides) or `between_tools`: reasoning; `disabled`: none."""
    if raw is None:
        return None
    raw = mapping(raw, "thinking")
    kind = raw.get("type")
    if kind == "disabled":
        return None
    if kind == "enabled":
        return Reasoning(budget_tokens=opt_int(raw.get("budget_tokens"), "thinking.budget_tokens", 1024))
    if kind in ("adaptive", "between_tools"):
        return Reasoning()
    raise bad("thinking.type", "must be enabled, adaptive, between_tools or disabled.")


def _output_format(raw: Any) -> dict[str, Any] | None:
    """Structured output (`output_config.format`) in the internal shape, OpenAI's `json_schema` response format."""
    if raw is None:
        return None
    output_format = mapping(raw, "output_config").get("format")
    if output_format is None:
        return None
    output_format = mapping(output_format, "output_config.format")
    if output_format.get("type") != "json_schema":
        raise bad("output_config.format.type", "must be json_schema.")
    schema = mapping(output_format.get("schema"), "output_config.format.schema")
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": schema}}


def _cached(raw: dict[str, Any], param: str) -> bool:
    marker = raw.get("cache_control")
    if marker is None:
        return False
    if mapping(marker, f"{param}.cache_control").get("type") != "ephemeral":
        raise bad(f"{param}.cache_control.type", "must be 'ephemeral'.")
    return True


def _text_block(raw: dict[str, Any], param: str) -> TextPart:
    return TextPart(string(raw.get("text"), f"{param}.text"), cache_control=_cached(raw, param))


def _system(raw: Any) -> list[Message]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [Message("system", [TextPart(raw)])] if raw else []
    parts: list[Part] = []
    for i, block in enumerate(array(raw, "system")):
        block = mapping(block, f"system[{i}]")
        if block.get("type") != "text":
            raise bad(f"system[{i}].type", "system blocks must be text.")
        parts.append(_text_block(block, f"system[{i}]"))
    return [Message("system", parts)] if parts else []


def _image(raw: dict[str, Any], param: str) -> ImagePart:
    source = mapping(raw.get("source"), f"{param}.source")
    kind = source.get("type")
    if kind == "base64":
        return ImagePart(
            data=string(source.get("data"), f"{param}.source.data"),
            media_type=string(source.get("media_type"), f"{param}.source.media_type"),
        )
    if kind == "url":
        return ImagePart(url=string(source.get("url"), f"{param}.source.url"))
    raise bad(f"{param}.source.type", "must be base64 or url.")


def _tool_result(raw: dict[str, Any], param: str) -> Message:
    content = raw.get("content")
    parts: list[Part] = []
    if isinstance(content, str):
        parts.append(TextPart(content))
    elif content is not None:
        for i, block in enumerate(array(content, f"{param}.content")):
            where = f"{param}.content[{i}]"
            block = mapping(block, where)
            if block.get("type") == "text":
                parts.append(_text_block(block, where))
            elif block.get("type") == "image":
                parts.append(_image(block, where))
            elif isinstance(block.get("type"), str):
                parts.append(NativePart("anthropic", block))  # documents, search results, ...
            else:
                raise bad(f"{where}.type", "a content block needs a type.")
    return Message(
        "tool",
        parts,
        tool_call_id=string(raw.get("tool_use_id"), f"{param}.tool_use_id"),
        is_error=bool(opt_bool(raw.get("is_error"), f"{param}.is_error")),
    )


def _turn(raw: Any, param: str) -> list[Message]:
    raw = mapping(raw, param)
    role = raw.get("role")
    if role not in ("user", "assistant"):
        raise bad(f"{param}.role", "must be user or assistant.")
    content = raw.get("content")
    if isinstance(content, str):
        return [Message(role, [TextPart(content)])]
    results: list[Message] = []
    parts: list[Part] = []
    calls: list[ToolCall] = []
    for i, block in enumerate(array(content, f"{param}.content")):
        where = f"{param}.content[{i}]"
        block = mapping(block, where)
        kind = block.get("type")
        if kind == "text":
            parts.append(_text_block(block, where))
        elif kind == "image" and role == "user":
            parts.append(_image(block, where))
        elif kind == "tool_result" and role == "user":
            results.append(_tool_result(block, where))
        elif kind == "tool_use" and role == "assistant":
            calls.append(
                ToolCall(
                    id=string(block.get("id"), f"{where}.id"),
                    name=string(block.get("name"), f"{where}.name"),
                    arguments=orjson.dumps(mapping(block.get("input"), f"{where}.input")).decode(),
                )
            )
        elif isinstance(kind, str) and kind not in ("image", "tool_result", "tool_use"):
            # document, thinking, search results, server tool blocks...: for Anthropic-format providers
            parts.append(NativePart("anthropic", block))
        else:
            raise bad(f"{where}.type", f"block type {kind!r} is not supported in a {role} message.")
    if parts or calls or not results:
        results.append(Message(role, parts, calls))
    return results


def _tool(raw: Any, param: str) -> Tool:
    raw = mapping(raw, param)
    if raw.get("type") not in (None, "custom"):  # Anthropic's server tools (web search, code execution, ...)
        return Tool(str(raw.get("name") or raw.get("type")), None, {}, native=raw, family="anthropic")
    name = string(raw.get("name"), f"{param}.name")
    if not name:
        raise bad(f"{param}.name", "a tool needs a name.")
    return Tool(
        name=name,
        description=opt_string(raw.get("description"), f"{param}.description"),
        parameters=mapping(raw.get("input_schema"), f"{param}.input_schema"),
    )


def _tool_choice(raw: Any, tools: list[Tool]) -> tuple[ToolChoice | None, bool | None]:
    if raw is None:
        return None, None
    raw = mapping(raw, "tool_choice")
    mode = _TOOL_CHOICES.get(raw.get("type"))
    if mode is None:
        raise bad("tool_choice.type", "must be auto, any, tool or none.")
    name = None
    if mode == "tool":
        name = string(raw.get("name"), "tool_choice.name")
        if all(tool.name != name for tool in tools):
            raise bad("tool_choice.name", f"no tool named {name!r} in 'tools'.")
    disable = opt_bool(raw.get("disable_parallel_tool_use"), "tool_choice.disable_parallel_tool_use")
    return ToolChoice(mode, name), None if disable is None else not disable  # type: ignore[arg-type]


_STOP: dict[FinishReason, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
    "error": "end_turn",
}


def render_usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": max(0, usage.input_tokens - usage.cached_input_tokens - usage.cache_write_tokens),
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cached_input_tokens,
    }


def tool_input(arguments: str) -> dict[str, Any]:
    """A tool call's JSON arguments as the object Anthropic sends; unparseable text becomes {}."""
    try:
        value = orjson.loads(arguments) if arguments else {}
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def render_result(result: ChatResult, request_id: str) -> dict[str, Any]:
    """The Messages API `message` object; Anthropic has no `n`, so only the first choice is rendered."""
    choice = result.choices[0]
    content: list[dict[str, Any]] = []
    for part in choice.message.content:
        if isinstance(part, TextPart) and part.text:
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, NativePart) and part.family == "anthropic":
            content.append(part.block)  # thinking, server tool results: echoed as the provider sent them
    content += [
        {"type": "tool_use", "id": c.id, "name": c.name, "input": tool_input(c.arguments)}
        for c in choice.message.tool_calls
    ]
    return {
        "id": request_id,
        "type": "message",
        "role": "assistant",
        "model": result.model,
        "content": content,
        "stop_reason": _STOP[choice.finish_reason],
        "stop_sequence": None,
        "usage": render_usage(result.usage),
    }


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def render_error(err: AsahiError) -> dict[str, Any]:
    """Anthropic's envelope has no code: an exhausted budget says so by its type (the status stays 429)."""
    if "budget" in err.details:
        return {"type": "error", "error": {"type": err.code, "message": err.message,
                                           "budget": err.details["budget"]}}
    kind = _ERROR_TYPES.get(err.status, "api_error" if err.status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": err.message}}


def _event(kind: bytes, data: dict[str, Any]) -> bytes:
    return b"event: " + kind + b"\ndata: " + orjson.dumps(data) + b"\n\n"


class EventRenderer:
    """Turns one answer's `StreamEvent`s into the Messages API event sequence, as bytes.

    message_start, then per content block content_block_start / content_block_delta... / content_block_stop
    (a ping after the first block opens, as Anthropic sends), then message_delta with the stop reason and usage
    and message_stop. Usage only arrives at the end of an Asahi stream, so message_start reports the
    `input_tokens` the caller estimated and message_delta carries the final counts, which the SDKs take over.
    Only choice 0 is rendered: Anthropic has no `n`.
    """

    def __init__(self, message_id: str, model: str, input_tokens: int = 0) -> None:
        self._message_id = message_id
        self._model = model
        self._input_tokens = input_tokens
        self._started = False
        self._block = -1  # index of the open content block, -1 when none is open
        self._open: tuple[str, int] | None = None  # ("text", 0) or ("tool", tool_index)
        self._stop_reason = "end_turn"
        self._usage = Usage(input_tokens=input_tokens)
        self._thinking_blocks = 0

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        message: dict[str, Any] = {
            "id": self._message_id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self._input_tokens, "output_tokens": 1,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        }
        return _event(b"message_start", {"type": "message_start", "message": message})

    def _close_block(self) -> bytes:
        if self._open is None:
            return b""
        self._open = None
        return _event(b"content_block_stop", {"type": "content_block_stop", "index": self._block})

    def _open_block(self, key: tuple[str, int], block: dict[str, Any]) -> bytes:
        out = self._start() + self._close_block()
        self._block += 1
        self._open = key
        out += _event(b"content_block_start", {"type": "content_block_start", "index": self._block,
                                               "content_block": block})
        if self._block == 0:
            out += _event(b"ping", {"type": "ping"})
        return out

    def _delta(self, delta: dict[str, Any]) -> bytes:
        return _event(b"content_block_delta", {"type": "content_block_delta", "index": self._block, "delta": delta})

    def render(self, event: StreamEvent) -> bytes:
        if isinstance(event, UsageEvent):
            self._usage = event.usage
            return b""
        if event.index != 0 or isinstance(event, LogprobsDelta):  # Anthropic streams neither n nor logprobs
            return b""
        if isinstance(event, ThinkingDelta):
            return self._thinking(event)
        if isinstance(event, TextDelta):
            out = b"" if self._open == ("text", 0) else self._open_block(("text", 0), {"type": "text", "text": ""})
            return out + self._delta({"type": "text_delta", "text": event.text})
        if isinstance(event, ToolCallDelta):
            out = b""
            if self._open != ("tool", event.tool_index):
                block = {"type": "tool_use", "id": event.id or f"toolu_{event.tool_index}",
                         "name": event.name or "", "input": {}}
                out = self._open_block(("tool", event.tool_index), block)
            if event.arguments:
                out += self._delta({"type": "input_json_delta", "partial_json": event.arguments})
            return out
        if isinstance(event, FinishEvent):
            self._stop_reason = _STOP[event.finish_reason]
            return b""
        raise TypeError(f"not a stream event: {event!r}")

    def _thinking(self, event: ThinkingDelta) -> bytes:
        if event.redacted is not None:
            self._thinking_blocks += 1
            key = ("redacted", self._thinking_blocks)
            return self._open_block(key, {"type": "redacted_thinking", "data": event.redacted})
        out = b""
        if self._open is None or self._open[0] != "thinking":
            self._thinking_blocks += 1
            out = self._open_block(("thinking", self._thinking_blocks), {"type": "thinking", "thinking": "",
                                                                         "signature": ""})
        if event.thinking:
            out += self._delta({"type": "thinking_delta", "thinking": event.thinking})
        if event.signature is not None:
            out += self._delta({"type": "signature_delta", "signature": event.signature})
        return out

    def end(self) -> bytes:
        """The closing events, once the answer's last event was rendered."""
        out = self._start()
        if self._block == -1:
            out += self._open_block(("text", 0), {"type": "text", "text": ""})
        out += self._close_block()
        delta = {"type": "message_delta", "delta": {"stop_reason": self._stop_reason, "stop_sequence": None},
                 "usage": render_usage(self._usage)}
        return out + _event(b"message_delta", delta) + _event(b"message_stop", {"type": "message_stop"})

    def error(self, err: AsahiError) -> bytes:
        """The terminal `event: error` for a failure after events were sent."""
        return _event(b"error", render_error(err))
