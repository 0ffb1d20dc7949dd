"""OpenAI's Responses API as a surface: its requests become one `ChatRequest`, its answers and stream events are
rendered from a `ChatResult` or the pipeline's `StreamEvent`s, so tier 1/2, routing and every provider apply.

Input items map onto chat messages (`message` items by role, `function_call` onto the assistant's tool calls,
`function_call_output` onto tool messages; `reasoning` items are the model's own past thinking, which a chat
request does not carry). Fields are translated (instructions, text.format, reasoning.effort, max_output_tokens,
tools, tool_choice, top_logprobs), kept by Asahi (store, metadata, previous_response_id), passed to OpenAI-format
providers as the chat field of the same name (service_tier, safety_identifier, text.verbosity), or refused with a
400 naming them (built-in tools, files, background mode, truncation "auto", ...): never dropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from asahi.domain import (
    ChatRequest,
    ChatResult,
    FinishEvent,
    ImagePart,
    LogprobsDelta,
    Message,
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
from asahi.providers.fields import array, bad, mapping, opt_bool, opt_int, opt_number, opt_string, string
from asahi.providers.openai.surface import render_error

_FIELDS = frozenset({
    "model", "input", "instructions", "tools", "tool_choice", "text", "max_output_tokens", "temperature", "top_p",
    "reasoning", "parallel_tool_calls", "previous_response_id", "store", "metadata", "stream", "user",
    "top_logprobs", "service_tier", "prompt_cache_key", "truncation", "include", "safety_identifier",
    "stream_options",
})
_LOGPROBS = "message.output_text.logprobs"
_EFFORTS = ("minimal", "low", "medium", "high")
_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}


@dataclass(slots=True)
class ResponseOptions:
    """What the Responses API echoes back or Asahi itself acts on, beside the chat request."""

    model: str
    instructions: str | None = None
    previous_response_id: str | None = None
    store: bool = True
    metadata: dict[str, Any] = field(default_factory=dict)
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: Any = "auto"
    text: dict[str, Any] = field(default_factory=lambda: {"format": {"type": "text"}})
    reasoning: dict[str, Any] | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    parallel_tool_calls: bool = True
    top_logprobs: int | None = None
    user: str | None = None
    stream: bool = False
    input_items: list[dict[str, Any]] = field(default_factory=list)  # this request's input, as items


def parse_request(body: Any) -> tuple[ChatRequest, ResponseOptions]:
    """Validate a `POST /v1/responses` body; the conversation before `previous_response_id` is added later."""
    body = mapping(body, "body")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise bad(unknown[0], "is not supported by Asahi's Responses API (it would be lost in translation).")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad("model", "a model name is required.")
    _refuse(body)
    raw_input = body.get("input")
    if isinstance(raw_input, str):
        items: list[dict[str, Any]] = [{"type": "message", "role": "user", "content": raw_input}]
    else:
        items = [mapping(i, f"input[{n}]") for n, i in enumerate(array(raw_input, "input"))]
    tools = [_tool(t, f"tools[{i}]") for i, t in enumerate(array(body.get("tools") or [], "tools"))]
    text = mapping(body.get("text") or {"format": {"type": "text"}}, "text")
    top_logprobs = opt_int(body.get("top_logprobs"), "top_logprobs", 0, 20)
    include = [string(v, f"include[{i}]") for i, v in enumerate(array(body.get("include") or [], "include"))]
    for value in include:
        if value != _LOGPROBS:
            raise bad("include", f"{value!r} is not supported by Asahi's Responses API.")
    options = ResponseOptions(
        model=model, instructions=opt_string(body.get("instructions"), "instructions"),
        previous_response_id=opt_string(body.get("previous_response_id"), "previous_response_id"),
        store=opt_bool(body.get("store"), "store") is not False,
        metadata=mapping(body.get("metadata") or {}, "metadata"),
        tools=[mapping(t, "tools") for t in body.get("tools") or []], tool_choice=body.get("tool_choice") or "auto",
        text=text, reasoning=mapping(body["reasoning"], "reasoning") if body.get("reasoning") else None,
        max_output_tokens=opt_int(body.get("max_output_tokens"), "max_output_tokens", 16),
        temperature=opt_number(body.get("temperature"), "temperature", 0, 2),
        top_p=opt_number(body.get("top_p"), "top_p", 0, 1),
        parallel_tool_calls=opt_bool(body.get("parallel_tool_calls"), "parallel_tool_calls") is not False,
        top_logprobs=top_logprobs, user=opt_string(body.get("user"), "user"),
        stream=bool(opt_bool(body.get("stream"), "stream")), input_items=items,
    )
    extras = {k: body[k] for k in ("service_tier", "safety_identifier") if body.get(k) is not None}
    if text.get("verbosity") is not None:
        extras["verbosity"] = text["verbosity"]
    request = ChatRequest(
        model=model, messages=to_messages(items, "input"), tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), tools),
        response_format=_format(text.get("format")), temperature=options.temperature, top_p=options.top_p,
        max_tokens=options.max_output_tokens, user=options.user, stream=options.stream,
        include_usage=True, parallel_tool_calls=opt_bool(body.get("parallel_tool_calls"), "parallel_tool_calls"),
        prompt_cache_key=opt_string(body.get("prompt_cache_key"), "prompt_cache_key"),
        reasoning=_reasoning(options.reasoning), logprobs=_LOGPROBS in include or bool(top_logprobs),
        top_logprobs=top_logprobs or None, family="openai" if extras else None, extras=extras,
    )
    if options.instructions:
        request.messages.insert(0, Message("system", [TextPart(options.instructions)]))
    return request, options


def _refuse(body: dict[str, Any]) -> None:
    if body.get("truncation") not in (None, "disabled"):
        raise bad("truncation", "only 'disabled' is supported: Asahi does not drop parts of a conversation.")
    options = body.get("stream_options")
    if options is not None and not opt_bool(body.get("stream"), "stream"):
        raise bad("stream_options", "only allowed when 'stream' is enabled.")


def _reasoning(raw: dict[str, Any] | None) -> Reasoning | None:
    if raw is None or raw.get("effort") is None:
        return None
    if raw["effort"] not in _EFFORTS:
        raise bad("reasoning.effort", f"must be one of {', '.join(_EFFORTS)}.")
    return Reasoning(effort=raw["effort"])


def _format(raw: Any) -> dict[str, Any] | None:
    if raw is None:
        return None
    raw = mapping(raw, "text.format")
    kind = raw.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = {"name": string(raw.get("name"), "text.format.name"),
                  "schema": mapping(raw.get("schema"), "text.format.schema")}
        schema.update((k, raw[k]) for k in ("strict", "description") if raw.get(k) is not None)
        return {"type": "json_schema", "json_schema": schema}
    raise bad("text.format.type", "must be text, json_object or json_schema.")


def _tool(raw: Any, param: str) -> Tool:
    raw = mapping(raw, param)
    if raw.get("type") != "function":
        raise bad(f"{param}.type", f"{raw.get('type')!r} tools are OpenAI's own and not supported through Asahi; "
                                   "use function tools.")
    name = string(raw.get("name"), f"{param}.name")
    parameters = raw.get("parameters")
    return Tool(name, opt_string(raw.get("description"), f"{param}.description"),
                {"type": "object", "properties": {}} if parameters is None else mapping(parameters,
                                                                                         f"{param}.parameters"))


def _tool_choice(raw: Any, tools: list[Tool]) -> ToolChoice | None:
    if raw is None:
        return None
    if raw in ("auto", "none", "required"):
        return ToolChoice(raw)
    raw = mapping(raw, "tool_choice")
    if raw.get("type") != "function":
        raise bad("tool_choice.type", "must be 'function' (or use auto, none, required).")
    name = string(raw.get("name"), "tool_choice.name")
    if all(tool.name != name for tool in tools):
        raise bad("tool_choice.name", f"no tool named {name!r} in 'tools'.")
    return ToolChoice("tool", name)


def to_messages(items: list[dict[str, Any]], where: str) -> list[Message]:
    """Input (or stored) items as chat messages."""
    messages: list[Message] = []
    for n, item in enumerate(items):
        param = f"{where}[{n}]"
        kind = item.get("type", "message")
        if kind == "message":
            role = _ROLES.get(item.get("role"))  # type: ignore[arg-type]
            if role is None:
                raise bad(f"{param}.role", "must be user, assistant, system or developer.")
            messages.append(Message(role, _parts(item.get("content"), f"{param}.content")))  # type: ignore[arg-type]
        elif kind == "function_call":
            call = ToolCall(string(item.get("call_id"), f"{param}.call_id"), string(item.get("name"), f"{param}.name"),
                            string(item.get("arguments"), f"{param}.arguments"))
            last = messages[-1] if messages else None
            if last is not None and last.role == "assistant":
                last.tool_calls.append(call)
            else:
                messages.append(Message("assistant", [], [call]))
        elif kind == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else orjson.dumps(output).decode()
            messages.append(Message("tool", [TextPart(text)],
                                    tool_call_id=string(item.get("call_id"), f"{param}.call_id")))
        elif kind == "reasoning":
            continue  # the model's own past thinking: a chat request carries none
        else:
            raise bad(f"{param}.type", f"{kind!r} items are not supported by Asahi's Responses API.")
    if not messages:
        raise bad(where, "at least one input item is required.")
    return messages


def _parts(content: Any, param: str) -> list[Part]:
    if isinstance(content, str):
        return [TextPart(content)]
    parts: list[Part] = []
    for i, raw in enumerate(array(content, param)):
        raw = mapping(raw, f"{param}[{i}]")
        kind = raw.get("type")
        if kind in ("input_text", "output_text"):
            parts.append(TextPart(string(raw.get("text"), f"{param}[{i}].text")))
        elif kind == "input_image" and isinstance(raw.get("image_url"), str):
            url = raw["image_url"]
            if url.startswith("data:") and ";base64," in url:
                media_type, _, data = url[5:].partition(";base64,")
                parts.append(ImagePart(data=data, media_type=media_type))
            else:
                parts.append(ImagePart(url=url))
        elif kind == "refusal":
            parts.append(TextPart(string(raw.get("refusal"), f"{param}[{i}].refusal")))
        else:
            raise bad(f"{param}[{i}].type", f"{kind!r} content is not supported by Asahi's Responses API "
                                            "(files need OpenAI's Files API).")
    return parts


# --- answers ---


def output_items(result: ChatResult, response_id: str) -> list[dict[str, Any]]:
    choice = result.choices[0]
    items: list[dict[str, Any]] = []
    if choice.message.text or not choice.message.tool_calls:
        logprobs = (choice.logprobs or {}).get("content") or []
        items.append(_message_item(f"msg_{response_id[5:]}", choice.message.text, logprobs))
    for n, call in enumerate(choice.message.tool_calls):
        items.append(_call_item(f"fc_{response_id[5:]}_{n}", call.id, call.name, call.arguments))
    return items


def _message_item(item_id: str, text: str, logprobs: list[dict[str, Any]], status: str = "completed"
                  ) -> dict[str, Any]:
    return {"type": "message", "id": item_id, "status": status, "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": logprobs}]}


def _call_item(item_id: str, call_id: str, name: str, arguments: str, status: str = "completed") -> dict[str, Any]:
    return {"type": "function_call", "id": item_id, "call_id": call_id, "name": name, "arguments": arguments,
            "status": status}


def render_usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cached_input_tokens,
                                 "cache_write_tokens": usage.cache_write_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }


def response_object(response_id: str, options: ResponseOptions, model: str, created: int, *, status: str,
                    output: list[dict[str, Any]], usage: Usage | None, finish: str | None = None) -> dict[str, Any]:
    incomplete = {"reason": "max_output_tokens"} if finish == "length" else None
    return {
        "id": response_id, "object": "response", "created_at": created,
        "status": "incomplete" if incomplete and status == "completed" else status,
        "error": None, "incomplete_details": incomplete, "instructions": options.instructions,
        "max_output_tokens": options.max_output_tokens, "model": model, "output": output,
        "parallel_tool_calls": options.parallel_tool_calls, "previous_response_id": options.previous_response_id,
        "reasoning": options.reasoning or {"effort": None, "summary": None}, "store": options.store,
        "temperature": options.temperature, "text": options.text, "tool_choice": options.tool_choice,
        "tools": [{"strict": True, **t} for t in options.tools], "top_p": options.top_p,
        "top_logprobs": options.top_logprobs, "truncation": "disabled",
        "usage": None if usage is None else render_usage(usage), "user": options.user,
        "metadata": options.metadata,
    }


def render_result(result: ChatResult, response_id: str, options: ResponseOptions) -> dict[str, Any]:
    return response_object(response_id, options, result.model, result.created or int(time.time()),
                           status="completed", output=output_items(result, response_id), usage=result.usage,
                           finish=result.choices[0].finish_reason)


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **data}) + b"\n\n"


class ResponseEventRenderer:
    """The Responses API's stream: response.created / in_progress, then per output item output_item.added, its
    deltas and their done events, output_item.done, and response.completed with the whole response. Every event
    carries a sequence number. Only choice 0 is rendered: the Responses API has no `n`."""

    def __init__(self, response_id: str, model: str, options: ResponseOptions) -> None:
        self._id = response_id
        self._model = model
        self._options = options
        self._created = int(time.time())
        self._sequence = 0
        self._started = False
        self._output: list[dict[str, Any]] = []
        self._open: dict[str, Any] | None = None
        self._calls: dict[int, int] = {}  # tool index -> output index
        self._usage: Usage | None = None
        self._finish: str | None = None

    def _emit(self, kind: str, **data: Any) -> bytes:
        out = _event(kind, {**data, "sequence_number": self._sequence})
        self._sequence += 1
        return out

    def _response(self, status: str) -> dict[str, Any]:
        return response_object(self._id, self._options, self._model, self._created, status=status,
                               output=self._output, usage=self._usage, finish=self._finish)

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        return (self._emit("response.created", response=self._response("in_progress"))
                + self._emit("response.in_progress", response=self._response("in_progress")))

    def _close(self) -> bytes:
        item, self._open = self._open, None
        if item is None:
            return b""
        index = self._output.index(item)
        item["status"] = "completed"
        if item["type"] == "message":
            part = item["content"][0]
            out = self._emit("response.output_text.done", item_id=item["id"], output_index=index, content_index=0,
                             text=part["text"], logprobs=part["logprobs"])
            out += self._emit("response.content_part.done", item_id=item["id"], output_index=index,
                              content_index=0, part=part)
        else:
            out = self._emit("response.function_call_arguments.done", item_id=item["id"], output_index=index,
                             arguments=item["arguments"])
        return out + self._emit("response.output_item.done", output_index=index, item=item)

    def _add(self, item: dict[str, Any]) -> bytes:
        out = self._start() + self._close()
        self._output.append(item)
        self._open = item
        index = len(self._output) - 1
        out += self._emit("response.output_item.added", output_index=index, item={**item, "status": "in_progress"})
        if item["type"] == "message":
            out += self._emit("response.content_part.added", item_id=item["id"], output_index=index,
                              content_index=0, part={"type": "output_text", "text": "", "annotations": [],
                                                     "logprobs": []})
        return out

    def render(self, event: StreamEvent) -> bytes:
        if isinstance(event, UsageEvent):
            self._usage = event.usage
            return b""
        if isinstance(event, ThinkingDelta) or event.index != 0:
            return b""
        if isinstance(event, FinishEvent):
            self._finish = event.finish_reason
            return b""
        if isinstance(event, TextDelta):
            out = b""
            if self._open is None or self._open["type"] != "message":
                out = self._add(_message_item(f"msg_{self._id[5:]}", "", [], "in_progress"))
            assert self._open is not None
            self._open["content"][0]["text"] += event.text
            return out + self._emit("response.output_text.delta", item_id=self._open["id"],
                                    output_index=len(self._output) - 1, content_index=0, delta=event.text,
                                    logprobs=[])
        if isinstance(event, LogprobsDelta):
            if self._open is not None and self._open["type"] == "message":
                self._open["content"][0]["logprobs"].extend(event.content)
            return b""
        if isinstance(event, ToolCallDelta):
            out = b""
            if event.tool_index not in self._calls:
                n = len(self._calls)
                out = self._add(_call_item(f"fc_{self._id[5:]}_{n}", event.id or f"call_{n}", event.name or "",
                                           "", "in_progress"))
                self._calls[event.tool_index] = len(self._output) - 1
            item = self._output[self._calls[event.tool_index]]
            item["arguments"] += event.arguments
            if event.arguments:
                out += self._emit("response.function_call_arguments.delta", item_id=item["id"],
                                  output_index=self._calls[event.tool_index], delta=event.arguments)
            return out
        raise TypeError(f"not a stream event: {event!r}")

    def end(self) -> bytes:
        out = self._start() + self._close()
        return out + self._emit("response.completed", response=self._response("completed"))

    def error(self, err: AsahiError) -> bytes:
        body = render_error(err)["error"]
        return self._emit("error", code=body["code"], message=body["message"], param=body["param"])

    @property
    def output(self) -> list[dict[str, Any]]:
        return self._output
