"""The legacy `POST /v1/completions`, passed through to OpenAI or a compatible server with tier 1 in front.

The body goes upstream as the client sent it (a stream also asks for usage, which the ledger needs, and the
client sees only if it asked). An answer is cached per org under every field that shapes it, streamed answers as
their chunks, and replayed on a hit.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from asahi.cache.keys import endpoint_key
from asahi.cache.tier1 import Tier1
from asahi.call import Call, Outcome
from asahi.domain import ChatRequest, Usage
from asahi.errors import AsahiError
from asahi.governance.budgets.service import Hold
from asahi.governance.keys import KeyRecord
from asahi.ledger import bill
from asahi.ledger.worst_case import worst_case_tokens_usd
from asahi.pipeline import Pipeline
from asahi.providers.base import Provider
from asahi.providers.openai.adapter import OpenAIProvider
from asahi.providers.openai.upstream import usage_from_json
from asahi.routing.catalog import ModelInfo
from asahi.routing.tokens import count_tokens

# Fields that cannot change the answer: how it is delivered and who the end user is.
_DELIVERY = frozenset({"stream", "stream_options", "user"})
_DEFAULT_MAX_TOKENS = 16  # what the legacy completions API generates when max_tokens is not sent


@dataclass(slots=True)
class Completed:
    outcome: Outcome
    body: dict[str, Any] | None = None  # a whole answer
    chunks: AsyncIterator[dict[str, Any]] | None = None  # a streamed one, chunk by chunk


class CompletionsPath:
    def __init__(self, pipeline: Pipeline, tier1: Tier1, models: dict[str, ModelInfo],
                 providers: dict[str, Provider], max_temperature: float) -> None:
        self._pipeline = pipeline
        self._tier1 = tier1
        self.models = models
        self._providers = providers
        self._max_temperature = max_temperature

    async def run(self, request_id: str, key: KeyRecord, body: dict[str, Any], *, read: bool = True,
                  write: bool = True) -> Completed:
        name = str(body["model"])
        call = Call(request_id, "openai", key, ChatRequest(model=name, messages=[]))
        policy = await self._pipeline.admit(key)
        model = self.models.get(name)
        if model is None:
            raise AsahiError(404, "model_not_found", f"Model {name!r} is not served for completions. Available: "
                             f"{', '.join(sorted(self.models)) or 'none'}.", details={"param": "model"})
        if not policy.allows(name):
            raise AsahiError(403, "model_not_allowed", f"Model {name!r} is not allowed for this organisation.",
                             details={"param": "model"})
        provider = self._providers.get(model.provider)
        if not isinstance(provider, OpenAIProvider):
            raise AsahiError(503, "provider_unavailable", f"{model.provider} is not configured.")
        temperature = body.get("temperature")
        cacheable = not isinstance(temperature, int | float) or temperature <= self._max_temperature
        stream = body.get("stream") is True
        key_ = endpoint_key(key.org_id, "completions", {k: v for k, v in body.items() if k not in _DELIVERY})
        if cacheable and read:
            entry = await self._tier1.get_bytes(key_)
            if entry is not None:
                return self._hit(call, model, orjson.loads(entry), stream, body)
        store = key_ if cacheable and write else None
        hold = await self._pipeline.hold(call, policy, _worst_case(model, body))
        if stream:
            return self._stream(call, model, provider, body, store, hold)
        started = time.perf_counter()
        try:
            account = (await self._pipeline.account(key.org_id)).for_provider(provider.name)
            answer = await provider.call_json("/completions", body, account)
        except BaseException:
            self._pipeline.release(hold)
            raise
        usage = usage_from_json(answer.get("usage"))
        if store is not None:
            await self._tier1.put_bytes(store, orjson.dumps({"body": answer}))
        outcome = self._outcome(call, model, "miss" if cacheable else "bypass", bill.answered(model, None, usage))
        self._pipeline.record(call, outcome, usage, status=200, upstream_seconds=time.perf_counter() - started)
        await self._pipeline.settle(hold, outcome.bill.cost.usd)
        return Completed(outcome, body=answer)

    def _outcome(self, call: Call, model: ModelInfo, cache: Any, billed: bill.Bill) -> Outcome:
        return Outcome(request_id=call.request_id, model=model.name, provider=model.provider, cache=cache,
                       routing_reason=f"explicit: the caller named {model.name}", bill=billed)

    def _hit(self, call: Call, model: ModelInfo, entry: dict[str, Any], stream: bool,
             body: dict[str, Any]) -> Completed:
        chunks: list[dict[str, Any]] = entry.get("chunks") or []
        whole: dict[str, Any] | None = entry.get("body")
        usage_json = whole.get("usage") if whole is not None else next(
            (c["usage"] for c in reversed(chunks) if c.get("usage")), None)
        usage = usage_from_json(usage_json)
        outcome = self._outcome(call, model, "t1", bill.cache_hit(model, usage, "tier1"))
        self._pipeline.record(call, outcome, usage, status=200, upstream_seconds=0.0)
        if not stream:
            return Completed(outcome, body=whole if whole is not None else _joined(chunks))
        return Completed(outcome, chunks=_replay(chunks or _split(whole or {}), _wants_usage(body)))

    def _stream(self, call: Call, model: ModelInfo, provider: OpenAIProvider, body: dict[str, Any],
                store: str | None, hold: Hold | None) -> Completed:
        outcome = self._outcome(call, model, "miss" if store is not None else "bypass", bill.UNBILLED)
        sent = {**body, "stream_options": {**(body.get("stream_options") or {}), "include_usage": True}}
        chunks = self._relay(call, model, provider, sent, store, outcome, _wants_usage(body), hold)
        self._pipeline.release_when_dropped(chunks, hold)
        return Completed(outcome, chunks=chunks)

    async def _relay(self, call: Call, model: ModelInfo, provider: OpenAIProvider, body: dict[str, Any],
                     store: str | None, outcome: Outcome, wants_usage: bool, hold: Hold | None
                     ) -> AsyncIterator[dict[str, Any]]:
        started = time.perf_counter()
        seen: list[dict[str, Any]] = []
        usage, status = Usage(), 499
        error: str | None = "client_disconnected"
        account = (await self._pipeline.account(call.org_id)).for_provider(provider.name)
        try:
            async for chunk in provider.call_events("/completions", body, account):
                seen.append(chunk)
                if chunk.get("usage"):
                    usage = usage_from_json(chunk["usage"])
                if wants_usage or chunk.get("choices"):
                    yield chunk if wants_usage else {k: v for k, v in chunk.items() if k != "usage"}
            status, error = 200, None
        except AsahiError as exc:
            status, error = exc.status, exc.code
            raise
        finally:
            outcome.bill = bill.answered(model, None, usage)
            if status == 200 and store is not None:
                await self._tier1.put_bytes(store, orjson.dumps({"chunks": seen}))
            self._pipeline.record(call, outcome, usage, status=status,
                                  upstream_seconds=time.perf_counter() - started, error_code=error)
            await self._pipeline.settle(hold, outcome.bill.cost.usd)


def _worst_case(model: ModelInfo, body: dict[str, Any]) -> float:
    """The prompt(s) counted, plus `max_tokens` (the API's default is 16) for each of `n` choices per prompt."""
    prompt = body.get("prompt")
    # A string, a list of token ids, or a list of either (a batch).
    one = isinstance(prompt, str) or (isinstance(prompt, list) and all(isinstance(t, int) for t in prompt))
    prompts: list[Any] = [prompt] if one or not isinstance(prompt, list) else prompt
    tokens = sum(count_tokens(p, model.name) if isinstance(p, str) else len(p) if isinstance(p, list) else 0
                 for p in prompts)
    max_tokens = body.get("max_tokens")
    each = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else _DEFAULT_MAX_TOKENS
    n = body.get("n")
    choices = (n if isinstance(n, int) and n > 0 else 1) * max(1, len(prompts))
    return worst_case_tokens_usd(model, tokens, each * choices)


def _wants_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


async def _replay(chunks: list[dict[str, Any]], wants_usage: bool) -> AsyncIterator[dict[str, Any]]:
    for chunk in chunks:
        if wants_usage or chunk.get("choices"):
            yield chunk if wants_usage else {k: v for k, v in chunk.items() if k != "usage"}


def _joined(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """A streamed answer as the whole `text_completion` a non-streaming request gets."""
    first = chunks[0] if chunks else {}
    texts: dict[int, list[str]] = {}
    finish: dict[int, Any] = {}
    for chunk in chunks:
        for choice in chunk.get("choices") or []:
            texts.setdefault(choice.get("index", 0), []).append(choice.get("text") or "")
            finish[choice.get("index", 0)] = choice.get("finish_reason") or finish.get(choice.get("index", 0))
    usage = next((c["usage"] for c in reversed(chunks) if c.get("usage")), None)
    return {"id": first.get("id", ""), "object": "text_completion", "created": first.get("created", 0),
            "model": first.get("model", ""), "choices": [
                {"index": i, "text": "".join(t), "logprobs": None, "finish_reason": finish.get(i)}
                for i, t in sorted(texts.items())], "usage": usage}


def _split(whole: dict[str, Any]) -> list[dict[str, Any]]:
    """A whole answer as the chunks of a stream: one per choice, then the usage."""
    head = {"id": whole.get("id", ""), "object": "text_completion", "created": whole.get("created", 0),
            "model": whole.get("model", "")}
    chunks = [{**head, "choices": [choice]} for choice in whole.get("choices") or []]
    return [*chunks, {**head, "choices": [], "usage": whole.get("usage")}]
