"""The simulator as a provider: answers, usage and streams, the same for the same request.

Every answer is derived from a hash of the request, so the same request always gets the same answer (which is
what lets the caches and the ledger be demonstrated without a network), and every answer says it came from the
simulator so nobody mistakes it for a model's output. Usage counts the prompt as `prompt` reads it, with the
cached and written tokens of the modelled provider prompt cache (`prompt_cache`) for models that stand in for
OpenAI or Anthropic ones. It is cheap by design: no sleep at all when latency is 0.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator, Callable

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
    ToolCall,
    ToolCallDelta,
    Usage,
    UsageEvent,
)
from asahi.providers.base import Account
from asahi.providers.prompt_caching import SIMULATOR, model_family
from asahi.providers.simulator import answers
from asahi.providers.simulator.answers import LABEL, LABEL_TOKENS
from asahi.providers.simulator.instances import instance
from asahi.providers.simulator.prompt import CHARS_PER_TOKEN, count_tokens, input_tokens, read_prompt
from asahi.providers.simulator.prompt_cache import PromptCache
from asahi.providers.simulator.tool_use import pick_tool

_JSON_DELTA_CHARS = 16


class SimulatorProvider:
    """Offline, deterministic, labelled. `output_tokens` is the planned length of a prose answer in tokens;
    `prompt_caching` turns the provider prompt-cache model on or off."""

    name = SIMULATOR

    def __init__(
        self, latency_ms: float = 0, output_tokens: int = 48, *, prompt_caching: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._latency = latency_ms / 1000
        self._output_tokens = max(output_tokens, LABEL_TOKENS + 1)
        self._cache = PromptCache(clock) if prompt_caching else None

    async def complete(self, request: ChatRequest, model: str, account: Account | None = None) -> ChatResult:
        if self._latency:
            await asyncio.sleep(self._latency)
        return self._answer(request, model, account)

    async def stream(
        self, request: ChatRequest, model: str, account: Account | None = None
    ) -> AsyncIterator[StreamEvent]:
        result = await self.complete(request, model, account)
        for choice in result.choices:
            text = choice.message.text
            if text.startswith(LABEL):
                # A few words per delta, like a model's stream.
                cuts = [i for i, ch in enumerate(text) if ch == " "][3::4]
            else:
                cuts = list(range(_JSON_DELTA_CHARS, len(text), _JSON_DELTA_CHARS))
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

    def _answer(self, request: ChatRequest, model: str, account: Account | None) -> ChatResult:
        digest = _digest(request, model)
        choices, output = [], 0
        for index in range(request.n):
            choice, tokens = self._choice(request, model, index, digest)
            choices.append(choice)
            output += tokens
        usage = self._usage(request, model, account)
        usage.output_tokens = output
        return ChatResult(f"sim-{digest.hex()[:24]}", model, self.name, choices, usage, int(time.time()))

    def _usage(self, request: ChatRequest, model: str, account: Account | None) -> Usage:
        family = model_family(SIMULATOR, model)
        blocks = read_prompt(request, system_first=family == "anthropic")
        usage = Usage(input_tokens=input_tokens(blocks))
        if self._cache is not None and family is not None:
            used = self._cache.use(family, model, account, blocks, request.prompt_cache_key)
            usage.cached_input_tokens, usage.cache_write_tokens = used.read, used.written
        return usage

    def _choice(self, request: ChatRequest, model: str, index: int, digest: bytes) -> tuple[Choice, int]:
        seed = int.from_bytes(digest[index % 8 * 4 : index % 8 * 4 + 4], "big") + index
        tool = pick_tool(request)
        if tool is not None:
            arguments = orjson.dumps(instance(tool.parameters, seed, LABEL)).decode()
            call = ToolCall(f"call_sim_{digest.hex()[:16]}_{index}", tool.name, arguments)
            message = Message("assistant", [TextPart(f"{LABEL} calling {tool.name}")], [call])
            return Choice(index, message, "tool_calls"), LABEL_TOKENS + 2 + count_tokens(arguments)
        text = answers.structured(request, seed)
        if text is not None:
            finish: FinishReason = "stop"
            if request.max_tokens is not None and count_tokens(text) > request.max_tokens:
                text, finish = text[: request.max_tokens * CHARS_PER_TOKEN], "length"
            return Choice(index, Message("assistant", [TextPart(text)]), finish), count_tokens(text)
        planned = self._output_tokens - LABEL_TOKENS
        budget = planned if request.max_tokens is None else max(0, min(planned, request.max_tokens - LABEL_TOKENS))
        finish = "length" if budget < planned else "stop"
        text = answers.prose(request, model, seed, budget, finish == "stop")
        return Choice(index, Message("assistant", [TextPart(text)]), finish), LABEL_TOKENS + budget


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
    hasher.update(f"\x03{request.max_tokens}:{request.n}:".encode())
    hasher.update(orjson.dumps(request.response_format, option=orjson.OPT_SORT_KEYS))
    return hasher.digest()
