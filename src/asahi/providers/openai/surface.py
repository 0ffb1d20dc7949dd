"""The OpenAI Chat Completions format as a surface: parse what clients send, render what they expect back.

Plain dict work plus orjson: this runs on every request, and hand checks are far cheaper than pydantic models.
A modelled field of the wrong type is a 400 naming the field, as OpenAI does. Every other field (metadata,
store, service_tier, verbosity, prediction, audio, ...) and every content part Asahi does not model (input_audio,
file) is kept as it came, as an OpenAI extra: passed through to OpenAI-format providers, part of the cache keys,
and a reason a provider of another format cannot take the request. Nothing is dropped.
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
    split_data_url,
    string,
)

_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "tool"}
_MODELLED = frozenset({
    "model", "messages", "tools", "tool_choice", "stream", "stream_options", "max_completion_tokens", "max_tokens",
    "response_format", "temperature", "top_p", "n", "stop", "seed", "user", "parallel_tool_calls",
    "reasoning_effort", "logprobs", "top_logprobs", "frequency_penalty", "presence_penalty", "prompt_cache_key",
})
_EFFORTS = ("minimal", "low", "medium", "high")
_TOOL_CHOICE_MODES = {"auto", "none", "required"}
_RESPONSE_FORMATS = {"text", "json_object", "json_schema"}


def parse_request(body: Any) -> ChatRequest:
    """Validate an OpenAI `/v1/chat/completions` body and translate it; raise `BadRequest` on bad shape."""
    body = mapping(body, "body")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad("model", "a model name is required.")
    raw_messages = array(body.get("messages"), "messages")
    if not raw_messages:
        raise bad("messages", "at least one message is required.")
    messages = [_message(m, f"messages[{i}]") for i, m in enumerate(raw_messages)]
    tools = [_tool(t, f"tools[{i}]") for i, t in enumerate(array(body.get("tools") or [], "tools"))]
    stream = bool(opt_bool(body.get("stream"), "stream"))
    include_usage = False
    if body.get("stream_options") is not None:
        if not stream:
            raise bad("stream_options", "only allowed when 'stream' is enabled.")
        options = mapping(body["stream_options"], "stream_options")
        include_usage = bool(opt_bool(options.get("include_usage"), "stream_options.include_usage"))
    max_tokens = opt_int(body.get("max_completion_tokens"), "max_completion_tokens", 1)
    if max_tokens is None:
        max_tokens = opt_int(body.get("max_tokens"), "max_tokens", 1)
    logprobs = bool(opt_bool(body.get("logprobs"), "logprobs"))
    top_logprobs = opt_int(body.get("top_logprobs"), "top_logprobs", 0, 20)
    if top_logprobs is not None and not logprobs:
        raise bad("top_logprobs", "needs 'logprobs': true.")
    return ChatRequest(
        model=model,
        messages=messages,
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), tools),
        response_format=_response_format(body.get("response_format")),
        temperature=opt_number(body.get("temperature"), "temperature", 0, 2),
        top_p=opt_number(body.get("top_p"), "top_p", 0, 1),
        max_tokens=max_tokens,
        n=opt_int(body.get("n"), "n", 1, 128) or 1,
        stop=_stop(body.get("stop")),
        seed=opt_int(body.get("seed"), "seed"),
        user=opt_string(body.get("user"), "user"),
        stream=stream,
        include_usage=include_usage,
        parallel_tool_calls=opt_bool(body.get("parallel_tool_calls"), "parallel_tool_calls"),
        prompt_cache_key=opt_string(body.get("prompt_cache_key"), "prompt_cache_key"),
        reasoning=_reasoning(body.get("reasoning_effort")),
        logprobs=logprobs,
        top_logprobs=top_logprobs,
        frequency_penalty=opt_number(body.get("frequency_penalty"), "frequency_penalty", -2, 2),
        presence_penalty=opt_number(body.get("presence_penalty"), "presence_penalty", -2, 2),
        family="openai",
        extras={k: v for k, v in body.items() if k not in _MODELLED},
    )


def _reasoning(raw: Any) -> Reasoning | None:
    if raw is None:
        return None
    if raw not in _EFFORTS:
        raise bad("reasoning_effort", f"must be one of {', '.join(_EFFORTS)}.")
    return Reasoning(effort=raw)


def _message(raw: Any, param: str) -> Message:
    raw = mapping(raw, param)
    role = _ROLES.get(raw.get("role"))
    if role is None:
        raise bad(f"{param}.role", "must be one of system, developer, user, assistant, tool.")
    name = opt_string(raw.get("name"), f"{param}.name")
    content = raw.get("content")
    if role == "assistant":
        raw_calls = array(raw.get("tool_calls") or [], f"{param}.tool_calls")
        tool_calls = [_tool_call(c, f"{param}.tool_calls[{i}]") for i, c in enumerate(raw_calls)]
        if content is None and not tool_calls:
            raise bad(f"{param}.content", "an assistant message needs content or tool_calls.")
        return Message("assistant", _parts(content, f"{param}.content", images=False), tool_calls, name=name)
    if role == "tool":
        tool_call_id = raw.get("tool_call_id")
        if not isinstance(tool_call_id, str) or not tool_call_id:
            raise bad(f"{param}.tool_call_id", "a tool message needs the id of the call it answers.")
        return Message("tool", _parts(content, f"{param}.content", images=False), tool_call_id=tool_call_id)
    if content is None:
        raise bad(f"{param}.content", "content is required.")
    return Message(role, _parts(content, f"{param}.content", images=role == "user"), name=name)  # type: ignore[arg-type]


def _parts(content: Any, param: str, *, images: bool) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(content)]
    parts: list[Part] = []
    for i, raw in enumerate(array(content, param)):
        where = f"{param}[{i}]"
        raw = mapping(raw, where)
        kind = raw.get("type")
        if kind == "text" or kind == "refusal":
            parts.append(TextPart(string(raw.get(kind), f"{where}.{kind}")))
        elif kind == "image_url" and images:
            parts.append(_image(raw.get("image_url"), f"{where}.image_url"))
        elif kind == "image_url":
            raise bad(f"{where}.type", "images are only allowed in user messages.")
        elif isinstance(kind, str) and kind:
            parts.append(NativePart("openai", raw))  # input_audio, file, ...: for OpenAI-format providers only
        else:
            raise bad(f"{where}.type", "a content part needs a type.")
    return parts


def _image(raw: Any, param: str) -> ImagePart:
    url = string(mapping(raw, param).get("url"), f"{param}.url")
    if url.startswith("data:"):
        media_type, data = split_data_url(url, f"{param}.url")
        return ImagePart(data=data, media_type=media_type)
    return ImagePart(url=url)


def _tool_call(raw: Any, param: str) -> ToolCall:
    raw = mapping(raw, param)
    if raw.get("type", "function") != "function":
        raise bad(f"{param}.type", "only function tool calls are supported.")
    function = mapping(raw.get("function"), f"{param}.function")
    return ToolCall(
        id=string(raw.get("id"), f"{param}.id"),
        name=string(function.get("name"), f"{param}.function.name"),
        arguments=string(function.get("arguments"), f"{param}.function.arguments"),
    )


def _tool(raw: Any, param: str) -> Tool:
    raw = mapping(raw, param)
    kind = raw.get("type")
    if isinstance(kind, str) and kind and kind != "function":  # OpenAI's own tools (custom, web search, ...)
        return Tool(str(raw.get("name") or kind), None, {}, native=raw, family="openai")
    if kind != "function":
        raise bad(f"{param}.type", "a tool needs a type.")
    function = mapping(raw.get("function"), f"{param}.function")
    name = string(function.get("name"), f"{param}.function.name")
    if not name:
        raise bad(f"{param}.function.name", "a tool needs a name.")
    parameters = function.get("parameters")
    return Tool(
        name=name,
        description=opt_string(function.get("description"), f"{param}.function.description"),
        parameters=(
            {"type": "object", "properties": {}}
            if parameters is None
            else mapping(parameters, f"{param}.function.parameters")
        ),
    )


def _tool_choice(raw: Any, tools: list[Tool]) -> ToolChoice | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        if raw not in _TOOL_CHOICE_MODES:
            raise bad("tool_choice", "must be none, auto, required or a named function.")
        if raw == "required" and not tools:
            raise bad("tool_choice", "'required' needs 'tools'.")
        return ToolChoice(raw)  # type: ignore[arg-type]
    raw = mapping(raw, "tool_choice")
    if raw.get("type") != "function":
        raise bad("tool_choice.type", "must be 'function'.")
    name = string(mapping(raw.get("function"), "tool_choice.function").get("name"), "tool_choice.function.name")
    if all(tool.name != name for tool in tools):
        raise bad("tool_choice.function.name", f"no tool named {name!r} in 'tools'.")
    return ToolChoice("tool", name)


def _response_format(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    raw = mapping(raw, "response_format")
    kind = raw.get("type")
    if kind not in _RESPONSE_FORMATS:
        raise bad("response_format.type", "must be text, json_object or json_schema.")
    if kind == "json_schema":
        schema = mapping(raw.get("json_schema"), "response_format.json_schema")
        string(schema.get("name"), "response_format.json_schema.name")
    # Plain text is the default; dropping it keeps equal requests equal for the caches.
    return None if kind == "text" else raw


def _stop(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw]
    stops = array(raw, "stop")
    if len(stops) > 4:
        raise bad("stop", "at most 4 stop sequences.")
    return [string(s, f"stop[{i}]") for i, s in enumerate(stops)]


# "error" is Asahi-internal; OpenAI clients only know these, and the stream's error event carries the failure.
_FINISH: dict[FinishReason, str] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
    "error": "stop",
}


def render_usage(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_input_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _render_tool_call(call: ToolCall) -> dict[str, Any]:
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments}}


def render_result(result: ChatResult, request_id: str) -> dict[str, Any]:
    """The `chat.completion` object for a finished result."""
    choices = []
    for choice in result.choices:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": choice.message.text if choice.message.content or not choice.message.tool_calls else None,
            "refusal": None,
            "annotations": [],
        }
        if choice.message.tool_calls:
            message["tool_calls"] = [_render_tool_call(c) for c in choice.message.tool_calls]
        finish_reason = _FINISH[choice.finish_reason]
        choices.append({"index": choice.index, "message": message, "logprobs": choice.logprobs,
                        "finish_reason": finish_reason})
    # An OpenAI-format answer's own top-level fields (service_tier, system_fingerprint, ...) are echoed as given.
    native = result.extras if result.family == "openai" else {}
    return {
        "id": request_id,
        "object": "chat.completion",
        "created": result.created,
        "model": result.model,
        "choices": choices,
        "usage": render_usage(result.usage),
        "service_tier": "default",
        "system_fingerprint": None,
        **native,
    }


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def render_error(err: AsahiError) -> dict[str, Any]:
    """OpenAI's error envelope; the HTTP status and headers come from `err` itself."""
    return {
        "error": {
            "message": err.message,
            "type": _ERROR_TYPES.get(err.status, "api_error" if err.status >= 500 else "invalid_request_error"),
            "param": err.details.get("param"),
            "code": err.code,
            **({"budget": err.details["budget"]} if "budget" in err.details else {}),
        }
    }


class ChunkRenderer:
    """Turns one answer's `StreamEvent`s into `chat.completion.chunk` SSE lines, as bytes.

    Every chunk of a stream shares id, created and model, so that envelope is serialized once and only the
    `choices` array is encoded per event. The first chunk of each choice carries the assistant role, as
    OpenAI's do; the usage chunk (empty choices) is only sent when the client asked for it.
    """

    def __init__(self, request_id: str, model: str, created: int, *, include_usage: bool) -> None:
        envelope = orjson.dumps(
            {"id": request_id, "object": "chat.completion.chunk", "created": created, "model": model,
             "service_tier": "default", "system_fingerprint": None}
        )
        self._head = b"data: " + envelope[:-1] + b',"choices":'
        self._tail = b',"usage":null}\n\n' if include_usage else b"}\n\n"
        self._include_usage = include_usage
        self._started: set[int] = set()

    def _chunk(
        self, index: int, delta: dict[str, Any], finish_reason: str | None = None,
        logprobs: dict[str, Any] | None = None,
    ) -> bytes:
        choice = {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}
        return self._head + orjson.dumps([choice]) + self._tail

    def _opening(self, index: int) -> bytes:
        if index in self._started:
            return b""
        self._started.add(index)
        return self._chunk(index, {"role": "assistant", "content": "", "refusal": None})

    def render(self, event: StreamEvent) -> bytes:
        if isinstance(event, TextDelta):
            return self._opening(event.index) + self._chunk(event.index, {"content": event.text})
        if isinstance(event, ToolCallDelta):
            call: dict[str, Any] = {"index": event.tool_index, "function": {"arguments": event.arguments}}
            if event.id is not None:
                call.update(id=event.id, type="function")
            if event.name is not None:
                call["function"]["name"] = event.name
            return self._opening(event.index) + self._chunk(event.index, {"tool_calls": [call]})
        if isinstance(event, FinishEvent):
            return self._opening(event.index) + self._chunk(event.index, {}, _FINISH[event.finish_reason])
        if isinstance(event, UsageEvent):
            if not self._include_usage:
                return b""
            return self._head + b"[]" + b',"usage":' + orjson.dumps(render_usage(event.usage)) + b"}\n\n"
        if isinstance(event, LogprobsDelta):
            return self._opening(event.index) + self._chunk(event.index, {}, logprobs={"content": event.content})
        if isinstance(event, ThinkingDelta):
            return b""  # Chat Completions streams no reasoning text; its tokens are in the usage
        raise TypeError(f"not a stream event: {event!r}")

    @staticmethod
    def end() -> bytes:
        return b"data: [DONE]\n\n"

    @staticmethod
    def error(err: AsahiError) -> bytes:
        """The terminal event for a failure after chunks were sent; OpenAI's SDK raises on it."""
        return b"data: " + orjson.dumps(render_error(err)) + b"\n\n"
