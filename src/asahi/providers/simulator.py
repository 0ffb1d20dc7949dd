"""The built-in offline provider: deterministic answers for demos, tests and hot-path benchmarks.

Every answer is derived from a hash of the request, so the same request always gets the same answer (which is
what lets the caches and the ledger be demonstrated without a network), and every answer says it came from the
simulator so nobody mistakes it for a model's output. It is cheap by design: no sleep at all when latency is 0.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson

from asahi.domain import (
    ChatRequest,
    ChatResult,
    Choice,
    FinishEvent,
    FinishReason,
    Message,
    StreamEvent,
    TextDelta,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from asahi.providers.base import Account

LABEL = "[asahi simulator]"
_LABEL_TOKENS = 4
_WORDS = (
    "the", "answer", "depends", "on", "context", "and", "on", "what", "you", "measure", "first", "so", "start",
    "small", "check", "the", "result", "then", "adjust", "one", "variable", "at", "a", "time", "keep", "notes",
    "compare", "against", "a", "baseline", "and", "prefer", "the", "simpler", "option", "when", "two",
    "perform", "alike", "costs", "fall", "when", "repeated", "work", "is", "cached", "and", "routed", "well",
)


def count_tokens(text: str) -> int:
    """About four characters per token, the usual rule of thumb for English text."""
    return (len(text) + 3) // 4


def _digest(request: ChatRequest, model: str) -> bytes:
    hasher = hashlib.blake2b(digest_size=32)
    hasher.update(model.encode())
    for message in request.messages:
        hasher.update(b"\x00" + message.role.encode() + b"\x00" + message.text.encode())
        for call in message.tool_calls:
            hasher.update(call.name.encode() + call.arguments.encode())
    for tool in request.tools:
        hasher.update(b"\x01" + tool.name.encode())
    if request.tool_choice is not None:
        hasher.update(f"\x02{request.tool_choice.mode}:{request.tool_choice.name}".encode())
    hasher.update(f"\x03{request.max_tokens}:{request.n}:{request.response_format}".encode())
    return hasher.digest()


def _input_tokens(request: ChatRequest) -> int:
    tokens = sum(count_tokens(m.text) + 4 for m in request.messages)
    tokens += sum(count_tokens(c.arguments) + 4 for m in request.messages for c in m.tool_calls)
    tokens += sum(count_tokens(orjson.dumps(t.parameters).decode()) + 8 for t in request.tools)
    return tokens + 3


def _value(schema: Any, seed: int) -> Any:
    """A value a trivial reading of `schema` accepts: its type, or its first enum member."""
    if not isinstance(schema, dict):
        return f"sim-{seed:x}"
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object":
        return _arguments(schema, seed)
    if kind == "array":
        return [_value(schema.get("items"), seed)]
    scalars: dict[Any, Any] = {"integer": seed % 100, "number": (seed % 1000) / 10, "boolean": seed % 2 == 0,
                               "null": None}
    return scalars.get(kind, f"sim-{seed:x}")


def _arguments(schema: dict[str, Any], seed: int) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    required = schema.get("required") or list(properties)
    return {name: _value(properties.get(name), seed + i) for i, name in enumerate(required)}


class SimulatorProvider:
    """Offline, deterministic, labelled. `output_tokens` is the planned answer length in tokens."""

    def __init__(self, latency_ms: float = 0, output_tokens: int = 48, name: str = "simulator") -> None:
        self.name = name
        self._latency = latency_ms / 1000
        self._output_tokens = max(output_tokens, _LABEL_TOKENS + 1)

    def _tool(self, request: ChatRequest, seed: int) -> Tool | None:
        choice = request.tool_choice
        if not request.tools or choice is None or choice.mode not in ("required", "tool"):
            return None
        if choice.mode == "tool":
            return next((t for t in request.tools if t.name == choice.name), request.tools[0])
        return request.tools[seed % len(request.tools)]

    def _choice(self, request: ChatRequest, model: str, index: int, digest: bytes) -> tuple[Choice, int]:
        seed = int.from_bytes(digest[index % 8 * 4 : index % 8 * 4 + 4], "big") + index
        tool = self._tool(request, seed)
        if tool is not None:
            arguments = orjson.dumps(_arguments(tool.parameters, seed)).decode()
            call = ToolCall(f"call_sim_{digest.hex()[:16]}_{index}", tool.name, arguments)
            message = Message("assistant", [TextPart(f"{LABEL} calling {tool.name}")], [call])
            return Choice(index, message, "tool_calls"), _LABEL_TOKENS + 2 + count_tokens(arguments)
        planned = self._output_tokens - _LABEL_TOKENS
        budget = planned if request.max_tokens is None else max(0, min(planned, request.max_tokens - _LABEL_TOKENS))
        words = [_WORDS[(seed + i * 7) % len(_WORDS)] for i in range(budget)]
        finish: FinishReason = "length" if budget < planned else "stop"
        topic = " ".join(request.last_user_text().split()[:8])
        text = f"{LABEL} ({model}) {topic}: " if topic else f"{LABEL} ({model}) "
        text += " ".join(words) + ("." if finish == "stop" else "")
        if (request.response_format or {}).get("type") in ("json_object", "json_schema"):
            # JSON mode must return JSON, so the label moves into the object.
            text = orjson.dumps({"asahi_simulator": True, "answer": text}).decode()
        return Choice(index, Message("assistant", [TextPart(text)]), finish), _LABEL_TOKENS + budget

    def _answer(self, request: ChatRequest, model: str) -> ChatResult:
        digest = _digest(request, model)
        choices, output = [], 0
        for index in range(request.n):
            choice, tokens = self._choice(request, model, index, digest)
            choices.append(choice)
            output += tokens
        usage = Usage(input_tokens=_input_tokens(request), output_tokens=output)
        return ChatResult(f"sim-{digest.hex()[:24]}", model, self.name, choices, usage, int(time.time()))

    async def complete(self, request: ChatRequest, model: str, account: Account | None = None) -> ChatResult:
        if self._latency:
            await asyncio.sleep(self._latency)
        return self._answer(request, model)

    async def stream(
        self, request: ChatRequest, model: str, account: Account | None = None
    ) -> AsyncIterator[StreamEvent]:
        result = await self.complete(request, model)
        for choice in result.choices:
            text = choice.message.text
            # A few words per delta, like a model's stream.
            cuts = [i for i, ch in enumerate(text) if ch == " "][3::4]
            for start, end in zip([0, *cuts], [*cuts, len(text)], strict=True):
                yield TextDelta(choice.index, text[start:end])
            for tool_index, call in enumerate(choice.message.tool_calls):
                half = len(call.arguments) // 2
                yield ToolCallDelta(choice.index, tool_index, call.id, call.name, call.arguments[:half])
                yield ToolCallDelta(choice.index, tool_index, None, None, call.arguments[half:])
            yield FinishEvent(choice.index, choice.finish_reason)
        yield UsageEvent(result.usage)

    async def aclose(self) -> None:
        return None
