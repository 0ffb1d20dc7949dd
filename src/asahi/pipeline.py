"""The request path, the same for every surface:

    policy (allowed model, rate limit) -> choose the model -> tier 1 -> provider
      -> store in tier 1 -> record the ledger row (batched, off the hot path) -> outcome (+ x-asahi-* headers)

Surfaces parse their wire format into a `Call` and render the `Outcome`; no surface has its own copy of a step.
A step whose backend is off or failing (no Redis, a cache error) is skipped, never an error.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import cast

from asahi.cache import codec
from asahi.cache.exact import CacheUnavailable, ExactCache
from asahi.cache.keys import request_fingerprint, tier1_key
from asahi.call import CacheStatus, Call, Outcome
from asahi.choice import Choice, ModelChooser
from asahi.domain import ChatRequest, ChatResult, StreamEvent, Usage
from asahi.errors import AsahiError, BadRequest, RateLimited
from asahi.governance.policy import OrgPolicy, PolicyStore
from asahi.governance.ratelimit import RateLimiter
from asahi.ledger import pricing
from asahi.ledger.recorder import LedgerWriter, UsageRow
from asahi.observability.metrics import Metrics
from asahi.providers.base import Provider
from asahi.routing.catalog import ModelInfo
from asahi.routing.cost import estimate_input_tokens
from asahi.streaming import StreamAccumulator, events_from_result

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CachePolicy:
    ttl_seconds: int
    max_temperature: float


class Pipeline:
    def __init__(
        self,
        *,
        chooser: ModelChooser,
        providers: dict[str, Provider],
        policies: PolicyStore,
        limiter: RateLimiter,
        tier1: ExactCache,
        cache_policy: CachePolicy,
        ledger: LedgerWriter,
        metrics: Metrics,
    ) -> None:
        self.chooser = chooser
        self.providers = providers
        self.policies = policies
        self._limiter = limiter
        self.tier1 = tier1
        self._cache_policy = cache_policy
        self._ledger = ledger
        self._metrics = metrics

    async def run(self, call: Call) -> Outcome:
        policy = await self.policies.get(call.org_id)
        await self._rate_limit(call, policy)
        choice = self.chooser.choose(call, policy)
        _check_limits(call.request, choice.model)
        key = tier1_key(call.org_id, request_fingerprint(call.request, choice.cache_scope))
        cacheable = self._cacheable(call)
        if cacheable and call.cache.read:
            hit = await self._tier1_get(key)
            if hit is not None:
                return self._from_cache(call, choice, hit)
        if call.request.stream:
            return await self._stream(call, choice, key if cacheable and call.cache.write else None, cacheable)
        return await self._complete(call, choice, key if cacheable and call.cache.write else None, cacheable)

    async def _rate_limit(self, call: Call, policy: OrgPolicy) -> None:
        if policy.requests_per_minute is None:
            return
        retry_after = await self._limiter.hit(f"org:{call.org_id}:rpm", policy.requests_per_minute, 60)
        if retry_after is not None:
            raise RateLimited("This org's request rate limit is exceeded.", retry_after)

    def _cacheable(self, call: Call) -> bool:
        temperature = call.request.temperature
        return (
            temperature is None
            or temperature <= self._cache_policy.max_temperature
            or call.cache.allow_high_temperature
        )

    async def _tier1_get(self, key: str) -> codec.CachedAnswer | None:
        try:
            blob = await self.tier1.get(key)
        except CacheUnavailable as exc:
            self._metrics.cache_errors.labels("t1").inc()
            log.warning("tier 1 read failed, going on uncached: %s", exc)
            return None
        return None if blob is None else codec.decode(blob)

    async def _tier1_put(self, key: str, answer: codec.CachedAnswer) -> None:
        try:
            await self.tier1.put(key, codec.encode(answer), self._cache_policy.ttl_seconds)
        except CacheUnavailable as exc:
            self._metrics.cache_errors.labels("t1").inc()
            log.warning("tier 1 write failed, answer not cached: %s", exc)

    def _from_cache(self, call: Call, choice: Choice, answer: codec.CachedAnswer) -> Outcome:
        result = answer.result
        baseline = pricing.price(choice.baseline or self.chooser.catalog.get(result.model), _uncached(result.usage))
        outcome = Outcome(
            request_id=call.request_id, model=result.model, provider=result.provider, cache="t1",
            routing_reason=choice.reason + "; answered from the tier 1 cache", cost=pricing.FREE,
            baseline=baseline, saved=pricing.saving(baseline, pricing.FREE), saving_cause="tier1",
        )
        self._finish(call, outcome, result.usage, status=200, upstream_seconds=0.0)
        if call.request.stream:
            outcome.events = _replay(answer.events or events_from_result(result))
        else:
            outcome.result = replace(result, id=call.request_id, created=int(time.time()))
        return outcome

    def _provider(self, model: ModelInfo) -> Provider:
        return self.providers[model.provider]

    async def _complete(self, call: Call, choice: Choice, key: str | None, cacheable: bool) -> Outcome:
        model = choice.model
        upstream_started = time.perf_counter()
        try:
            result = await self._provider(model).complete(call.request, model.name)
        except AsahiError as exc:
            self._failed(call, choice, exc, time.perf_counter() - upstream_started)
            raise
        upstream = time.perf_counter() - upstream_started
        outcome = self._priced(call, choice, result, cache="miss" if cacheable else "bypass")
        outcome.result = replace(result, id=call.request_id)
        if key is not None and all(c.finish_reason in ("stop", "tool_calls") for c in result.choices):
            await self._tier1_put(key, codec.CachedAnswer(result))
        self._finish(call, outcome, result.usage, status=200, upstream_seconds=upstream)
        return outcome

    async def _stream(self, call: Call, choice: Choice, key: str | None, cacheable: bool) -> Outcome:
        model = choice.model
        upstream_started = time.perf_counter()
        source = self._provider(model).stream(call.request, model.name)
        try:
            first = await anext(aiter(source))
        except StopAsyncIteration:
            first = None
        except AsahiError as exc:
            self._failed(call, choice, exc, time.perf_counter() - upstream_started)
            raise
        outcome = Outcome(
            request_id=call.request_id, model=model.name, provider=model.provider,
            cache="miss" if cacheable else "bypass", routing_reason=choice.reason,
            overhead_ms=(upstream_started - call.started) * 1000,
        )
        outcome.events = self._relay(call, choice, outcome, source, first, key, upstream_started)
        return outcome

    async def _relay(
        self,
        call: Call,
        choice: Choice,
        outcome: Outcome,
        source: AsyncIterator[StreamEvent],
        first: StreamEvent | None,
        key: str | None,
        upstream_started: float,
    ) -> AsyncIterator[StreamEvent]:
        """Pass events through as they come; cache and bill once the stream ends cleanly."""
        accumulator = StreamAccumulator()
        status = 499  # the client went away unless the stream ends or fails first
        try:
            async with contextlib.aclosing(cast(AsyncGenerator[StreamEvent, None], source)):  # cancels upstream
                if first is not None:
                    accumulator.add(first)
                    yield first
                async for event in source:
                    accumulator.add(event)
                    yield event
            status = 200
        except AsahiError as exc:
            status = exc.status
            self._metrics.provider_errors.labels(choice.model.provider, str(exc.status)).inc()
            raise
        finally:
            result = accumulator.result(call.request_id, choice.model.name, choice.model.provider)
            priced = self._priced(call, choice, result, cache=outcome.cache)
            outcome.cost, outcome.baseline, outcome.saved = priced.cost, priced.baseline, priced.saved
            outcome.saving_cause = priced.saving_cause
            if status == 200 and key is not None and accumulator.complete:
                await self._tier1_put(key, codec.CachedAnswer(result, accumulator.events))
            self._finish(call, outcome, result.usage, status=status,
                         upstream_seconds=time.perf_counter() - upstream_started)

    def _priced(self, call: Call, choice: Choice, result: ChatResult, cache: CacheStatus) -> Outcome:
        model = self.chooser.catalog.get(result.model) or choice.model
        cost = pricing.price(model, result.usage)
        baseline = pricing.price(choice.baseline, _uncached(result.usage)) if choice.baseline else cost
        saved = pricing.saving(baseline, cost)
        cause = None
        if saved.usd:
            cause = "routing" if choice.baseline and choice.baseline.name != model.name else "tier3"
        return Outcome(
            request_id=call.request_id, model=result.model, provider=result.provider, cache=cache,
            routing_reason=choice.reason, cost=cost, baseline=baseline, saved=saved, saving_cause=cause,
        )

    def _failed(self, call: Call, choice: Choice, exc: AsahiError, upstream_seconds: float) -> None:
        self._metrics.provider_errors.labels(choice.model.provider, str(exc.status)).inc()
        outcome = Outcome(request_id=call.request_id, model=choice.model.name, provider=choice.model.provider,
                          cache="miss", routing_reason=choice.reason)
        self._finish(call, outcome, Usage(), status=exc.status, upstream_seconds=upstream_seconds)

    def _finish(self, call: Call, outcome: Outcome, usage: Usage, status: int, upstream_seconds: float) -> None:
        elapsed = time.perf_counter() - call.started
        outcome.latency_ms = elapsed * 1000
        if outcome.events is None or outcome.cache != "miss":
            outcome.overhead_ms = max(0.0, elapsed - upstream_seconds) * 1000
        self._metrics.overhead.observe(outcome.overhead_ms / 1000)
        self._metrics.requests.labels(call.surface, str(status), outcome.cache).inc()
        if outcome.cost.usd:
            self._metrics.cost_usd.inc(outcome.cost.usd)
        if outcome.saved.usd and outcome.saving_cause:
            self._metrics.saved_usd.labels(outcome.saving_cause).inc(outcome.saved.usd)
        self._ledger.record(UsageRow(
            request_id=call.request_id, org_id=call.org_id, key_id=call.key.id, surface=call.surface,
            model_requested=call.request.model, model_used=outcome.model, provider=outcome.provider,
            input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
            cached_input_tokens=usage.cached_input_tokens, cost_usd=outcome.cost.usd,
            baseline_cost_usd=outcome.baseline.usd, saved_usd=outcome.saved.usd,
            cost_complete=outcome.cost.complete and outcome.baseline.complete, saving_cause=outcome.saving_cause,
            cache_tier=outcome.cache_tier, latency_ms=outcome.latency_ms, overhead_ms=outcome.overhead_ms,
            status=status, created_at=datetime.now(UTC),
        ))


def _uncached(usage: Usage) -> Usage:
    """The same usage as if no provider prompt cache had applied: what it would cost without Asahi."""
    return Usage(usage.input_tokens, usage.output_tokens, 0, 0)


async def _replay(events: list[StreamEvent]) -> AsyncIterator[StreamEvent]:
    for event in events:
        yield event


def _check_limits(request: ChatRequest, model: ModelInfo) -> None:
    if request.max_tokens is not None and request.max_tokens > model.max_output_tokens:
        raise BadRequest(
            f"max_tokens {request.max_tokens} is above {model.name}'s limit of {model.max_output_tokens}.",
            code="max_tokens_too_large", param="max_tokens",
        )
    estimate = estimate_input_tokens(request)
    if estimate > model.context_window:
        raise AsahiError(
            413, "context_length_exceeded",
            f"The prompt is about {estimate} tokens; {model.name} accepts at most {model.context_window}.",
            details={"param": "messages", "limit": model.context_window},
        )
