"""The request path, the same for every surface:

    policy (allowed model, rate limit) -> tier 1 -> tier 2 (embed once) -> route -> provider
      -> store in the tiers -> record the ledger row (batched, off the hot path) -> outcome (+ x-asahi-* headers)

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
from asahi.cache.prefix import apply_prefix_caching
from asahi.cache.semantic.tier2 import Probe, Tier2
from asahi.call import CacheStatus, Call, Outcome
from asahi.domain import ChatRequest, ChatResult, StreamEvent, Usage
from asahi.errors import AsahiError, BadRequest, RateLimited
from asahi.governance.policy import OrgPolicy, PolicyStore
from asahi.governance.ratelimit import RateLimiter
from asahi.ledger import pricing
from asahi.ledger.recorder import LedgerWriter, UsageRow
from asahi.observability.metrics import Metrics
from asahi.providers.base import Account, Provider
from asahi.providers.resilience import Prepare, Resilience
from asahi.routing.catalog import ModelInfo
from asahi.routing.choice import Choice, ModelChooser
from asahi.routing.cost import estimate_input_tokens, estimate_tokens
from asahi.streaming import StreamAccumulator, events_from_result

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Plan:
    """How a miss is served: the chosen model, what it is measured against, and where its answer goes."""

    choice: Choice
    baseline: ModelInfo | None
    key: str | None  # the tier 1 key to store under, None when the answer must not be stored
    cacheable: bool
    probe: Probe | None


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    ttl_seconds: int
    max_temperature: float
    request_timeout: float


class Pipeline:
    def __init__(
        self,
        *,
        chooser: ModelChooser,
        providers: dict[str, Provider],
        policies: PolicyStore,
        limiter: RateLimiter,
        tier1: ExactCache,
        config: PipelineConfig,
        ledger: LedgerWriter,
        metrics: Metrics,
        resilience: Resilience,
        tier2: Tier2 | None = None,
    ) -> None:
        self.chooser = chooser
        self.providers = providers
        self.policies = policies
        self._limiter = limiter
        self.tier1 = tier1
        self._config = config
        self._ledger = ledger
        self._metrics = metrics
        self.tier2 = tier2
        self.resilience = resilience

    async def run(self, call: Call) -> Outcome:
        policy = await self.policies.get(call.org_id)
        await self._rate_limit(call, policy)
        # An explicit model is validated before any cache is read, so a refused model never gets an answer.
        choice = self.chooser.choose(call, policy, None) if call.routing.mode == "explicit" else None
        scope = choice.model.name if choice is not None else call.routing.scope()
        baseline = self.chooser.baseline_for(call, policy)
        cacheable = self._cacheable(call)
        key = tier1_key(call.org_id, request_fingerprint(call.request, scope))
        if cacheable and call.cache.read:
            hit = await self._tier1_get(key)
            if hit is not None and policy.allows(hit.result.model):
                return self._from_cache(call, baseline, hit, "t1")
        probe = None
        if self.tier2 is not None and cacheable:
            self.tier2.cache.set_delta(call.org_id, policy.tier2_target_error or self.tier2.cache.default_delta)
            probe = await self.tier2.probe(call.org_id, call.request, scope, call.cache.read)
            if probe.decision.hit:
                answer = self.tier2.answer(probe.decision)
                if policy.allows(answer.result.model):
                    self.tier2.served(call.request_id, call.org_id, probe.decision)
                    return self._from_cache(call, baseline, answer, "t2", probe.decision.similarity)
        if choice is None:
            choice = self.chooser.choose(call, policy, None if probe is None else probe.embedding)
        _check_limits(call.request, choice.model)
        plan = Plan(choice, baseline, key if cacheable and call.cache.write else None, cacheable, probe)
        if call.request.stream:
            return await self._stream(call, plan)
        return await self._complete(call, plan)

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
            or temperature <= self._config.max_temperature
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
            await self.tier1.put(key, codec.encode(answer), self._config.ttl_seconds)
        except CacheUnavailable as exc:
            self._metrics.cache_errors.labels("t1").inc()
            log.warning("tier 1 write failed, answer not cached: %s", exc)

    def _from_cache(
        self, call: Call, baseline_model: ModelInfo | None, answer: codec.CachedAnswer, tier: CacheStatus,
        similarity: float | None = None,
    ) -> Outcome:
        result = answer.result
        baseline = pricing.price(baseline_model or self.chooser.catalog.get(result.model), _uncached(result.usage))
        outcome = Outcome(
            request_id=call.request_id, model=result.model, provider=result.provider, cache=tier,
            routing_reason=f"answered from the tier {tier[1]} cache", cost=pricing.FREE, baseline=baseline,
            saved=pricing.saving(baseline, pricing.FREE), saving_cause=f"tier{tier[1]}", similarity=similarity,
        )
        self._finish(call, outcome, result.usage, status=200, upstream_seconds=0.0)
        if call.request.stream:
            outcome.events = _replay(answer.events or events_from_result(result))
        else:
            outcome.result = replace(result, id=call.request_id, created=int(time.time()))
        return outcome

    def _chain(self, choice: Choice) -> list[tuple[Provider, str]]:
        return [(self.providers[m.provider], m.name) for m in (choice.model, *choice.fallbacks)]

    def _deadline(self) -> float:
        return self.resilience.deadline_in(self._config.request_timeout)

    async def _complete(self, call: Call, plan: Plan) -> Outcome:
        choice = plan.choice
        upstream_started = time.perf_counter()
        try:
            result, attempts = await self.resilience.complete(
                self._chain(choice), call.request, self._deadline(), _prefix_caching(call.org_id),
                Account(call.org_id),
            )
        except AsahiError as exc:
            self._failed(call, choice, exc, time.perf_counter() - upstream_started)
            raise
        upstream = time.perf_counter() - upstream_started
        answered_by = self._answered_by(choice, attempts[-1].model if attempts else choice.model.name)
        outcome = self._priced(call, plan, result, answered_by, cache="miss" if plan.cacheable else "bypass")
        outcome.result = replace(result, id=call.request_id)
        complete = bool(result.choices) and all(c.finish_reason in ("stop", "tool_calls") for c in result.choices)
        # Cached under the catalog's name (providers answer with dated ones) so policies can judge it later.
        cached = replace(result, model=answered_by.name, provider=answered_by.provider)
        if plan.key is not None and complete:
            await self._tier1_put(plan.key, codec.CachedAnswer(cached))
        self._after_tier2(call, plan, cached, complete)
        self._finish(call, outcome, result.usage, status=200, upstream_seconds=upstream)
        return outcome

    def _answered_by(self, choice: Choice, model: str) -> ModelInfo:
        return next((m for m in (choice.model, *choice.fallbacks) if m.name == model), choice.model)

    async def _stream(self, call: Call, plan: Plan) -> Outcome:
        choice = plan.choice
        upstream_started = time.perf_counter()
        try:
            handle = await self.resilience.stream(
                self._chain(choice), call.request, self._deadline(), _prefix_caching(call.org_id),
                idle_timeout=self._config.request_timeout, account=Account(call.org_id),
            )
        except AsahiError as exc:
            self._failed(call, choice, exc, time.perf_counter() - upstream_started)
            raise
        answered_by = self._answered_by(choice, handle.model)
        outcome = Outcome(
            request_id=call.request_id, model=answered_by.name, provider=answered_by.provider,
            cache="miss" if plan.cacheable else "bypass", routing_reason=choice.reason,
            overhead_ms=(upstream_started - call.started) * 1000,
        )
        outcome.events = self._relay(call, plan, outcome, handle.events, answered_by, upstream_started)
        return outcome

    async def _relay(
        self,
        call: Call,
        plan: Plan,
        outcome: Outcome,
        source: AsyncIterator[StreamEvent],
        answered_by: ModelInfo,
        upstream_started: float,
    ) -> AsyncIterator[StreamEvent]:
        """Pass events through as they come; cache and bill once the stream ends cleanly."""
        accumulator = StreamAccumulator()
        status = 499  # the client went away unless the stream ends or fails first
        try:
            async with contextlib.aclosing(cast(AsyncGenerator[StreamEvent, None], source)):  # cancels upstream
                async for event in source:
                    accumulator.add(event)
                    yield event
            status = 200
        except AsahiError as exc:
            status = exc.status
            self._metrics.provider_errors.labels(answered_by.provider, str(exc.status)).inc()
            raise
        finally:
            result = accumulator.result(call.request_id, answered_by.name, answered_by.provider)
            if not accumulator.has_usage:
                # Cut off before the provider reported usage: it still bills what it read and wrote, so
                # record an estimate, flagged as one, rather than a complete $0.
                result.usage = Usage(estimate_input_tokens(call.request), estimate_output(result))
                outcome.estimated = True
            priced = self._priced(call, plan, result, answered_by, cache=outcome.cache)
            outcome.cost, outcome.baseline, outcome.saved = priced.cost, priced.baseline, priced.saved
            outcome.saving_cause = priced.saving_cause
            if status == 200 and plan.key is not None and accumulator.complete:
                await self._tier1_put(plan.key, codec.CachedAnswer(result, accumulator.events))
            if status == 200:
                self._after_tier2(call, plan, result, accumulator.complete)
            self._finish(call, outcome, result.usage, status=status,
                         upstream_seconds=time.perf_counter() - upstream_started)

    def _after_tier2(self, call: Call, plan: Plan, result: ChatResult, complete: bool) -> None:
        if self.tier2 is not None and plan.probe is not None:
            store = plan.key is not None and complete
            self.tier2.after_upstream(call.org_id, plan.probe, result, plan.choice.model.name, store)

    def _priced(self, call: Call, plan: Plan, result: ChatResult, model: ModelInfo, cache: CacheStatus) -> Outcome:
        cost = pricing.price(model, result.usage)
        baseline = pricing.price(plan.baseline, _uncached(result.usage)) if plan.baseline else cost
        saved = pricing.saving(baseline, cost)
        cause = None
        if saved.usd:
            cause = "routing" if plan.baseline and plan.baseline.name != model.name else "tier3"
        return Outcome(
            request_id=call.request_id, model=model.name, provider=model.provider, cache=cache,
            routing_reason=plan.choice.reason, cost=cost, baseline=baseline, saved=saved, saving_cause=cause,
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
            cost_complete=outcome.cost.complete and outcome.baseline.complete and not outcome.estimated,
            saving_cause=outcome.saving_cause,
            cache_tier=outcome.cache_tier, latency_ms=outcome.latency_ms, overhead_ms=outcome.overhead_ms,
            status=status, created_at=datetime.now(UTC),
        ))


def _prefix_caching(org_id: str) -> Prepare:
    """Tier 3, per link of the chain: send long stable prefixes so that provider's own prompt cache applies."""

    def prepare(request: ChatRequest, provider: Provider, model: str) -> ChatRequest:
        return apply_prefix_caching(request, org_id, provider.name, model)

    return prepare


def estimate_output(result: ChatResult) -> int:
    return sum(
        estimate_tokens(c.message.text) + sum(estimate_tokens(t.arguments) for t in c.message.tool_calls)
        for c in result.choices
    )


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
