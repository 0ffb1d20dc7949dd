"""The request path, the same for every surface:

    policy (the key's and the org's: allowed models, rate limits) -> tier 1 -> tier 2 (embed once) -> route
      -> budget hold (worst case) -> provider (or the cascade) -> store in the tiers -> record the ledger row
      (batched, off the hot path) and settle the hold to the actual cost -> outcome (+ x-asahi-* headers)

Surfaces parse their wire format into a `Call` and render the `Outcome`; no surface has its own copy of a step.
A step whose backend is off or failing (no Redis, a cache error) is skipped, never an error.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar, cast

from asahi.cache.codec import CachedAnswer
from asahi.cache.prefix import PrefixCaching
from asahi.cache.semantic.tier2 import Probe, Tier2
from asahi.cache.tier1 import Tier1
from asahi.cache.vectors.base import Vector
from asahi.call import CacheStatus, Call, Outcome
from asahi.cascade import Cascade
from asahi.domain import ChatRequest, ChatResult, StreamEvent, Usage
from asahi.embeddings.base import Embedder, EmbeddingError
from asahi.errors import AsahiError, RateLimited
from asahi.governance import audit
from asahi.governance.budgets.service import Budgets, Hold, refs
from asahi.governance.credentials import CredentialStore
from asahi.governance.keys import KeyRecord
from asahi.governance.policy import OrgPolicy, OrgSuspended, PolicyStore, narrowed
from asahi.governance.ratelimit import RateLimiter
from asahi.governance.refusals import RefusalLog
from asahi.ledger import bill
from asahi.ledger.recorder import LedgerWriter
from asahi.ledger.rows import row_for
from asahi.ledger.worst_case import worst_case_usd
from asahi.observability.metrics import Metrics
from asahi.providers.base import Account, Provider
from asahi.providers.resilience import BreakerState, Prepare, Resilience
from asahi.routing.catalog import ModelInfo
from asahi.routing.cost import estimate_input_tokens, estimate_output_tokens
from asahi.routing.hints import RoutingMode
from asahi.routing.router import Route, Router
from asahi.streaming import StreamAccumulator, events_from_result, finished_cleanly
from asahi.verification import RoutingVerifier

T = TypeVar("T")
SUSPENDED_AUDIT_SECONDS = 60.0  # a suspended org's refusals: one audit row per key and minute


@dataclass(frozen=True, slots=True)
class Plan:
    """How a miss is served: the route, what it is measured against, and where its answer goes."""

    route: Route
    baseline: ModelInfo | None
    key: str | None  # the tier 1 key to store under, None when the answer must not be stored
    cacheable: bool
    probe: Probe | None
    tier3: PrefixCaching
    account: Account  # the org's own provider credentials where it stored some, else the operator's


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    max_temperature: float
    request_timeout: float
    prompt_caching: bool = True  # tier 3


class Pipeline:
    def __init__(
        self,
        *,
        router: Router,
        providers: dict[str, Provider],
        policies: PolicyStore,
        limiter: RateLimiter,
        tier1: Tier1,
        tier2: Tier2 | None,
        config: PipelineConfig,
        ledger: LedgerWriter,
        metrics: Metrics,
        resilience: Resilience,
        verifier: RoutingVerifier | None = None,
        router_embedder: Embedder | None = None,
        cascade: Cascade | None = None,
        budgets: Budgets | None = None,
        refusals: RefusalLog | None = None,
        credentials: CredentialStore | None = None,
    ) -> None:
        self._router = router
        self._providers = providers
        self._policies = policies
        self._limiter = limiter
        self._tier1 = tier1
        self._tier2 = tier2
        self._config = config
        self._ledger = ledger
        self._metrics = metrics
        self._resilience = resilience
        self._verifier = verifier
        self._router_embedder = router_embedder
        self._cascade = cascade
        self._budgets = budgets
        self._refusals = refusals
        self._credentials = credentials
        self._releasing: set[asyncio.Task[None]] = set()

    async def admit(self, key: KeyRecord, context: audit.Context | None = None) -> OrgPolicy:
        """What every request of every endpoint passes before anything is read or sent: the ledger can record it,
        the org's policy narrowed by the key's own limits, and both rate limits. Returns that policy."""
        if not self._ledger.accepting:
            # The spool is at its bound (a long database outage): an answer that could not be recorded would
            # break the ledger's promise, so none is given.
            raise AsahiError(503, "ledger_unavailable", "Asahi cannot record usage right now; retry shortly.",
                             headers={"retry-after": "5"})
        org = await self._policies.state(key.org_id)
        if org.suspended:
            if self._refusals is not None:
                self._refusals.refused(key.org_id, f"key:{key.id}", "org.suspended_refuse", context or audit.Context(),
                                       target=key.org_id, once_per=SUSPENDED_AUDIT_SECONDS)
            raise OrgSuspended()
        org_policy = org.policy
        await self._rate_limit(key, org_policy)
        return narrowed(org_policy, key)

    async def account(self, org_id: str) -> Account:
        """Whose provider accounts the org's calls go out on: its own keys (BYOK) where it stored some."""
        if self._credentials is None:
            return Account(org_id)
        return Account(org_id, credentials=await self._credentials.for_org(org_id))

    async def run(self, call: Call) -> Outcome:
        policy = await self.admit(call.key, audit.Context(call.request_id, call.client))
        await self._token_rate(call)
        # An explicit model is validated before any cache is read, so a refused model never gets an answer.
        explicit = call.routing.resolve(call.request.model) is RoutingMode.EXPLICIT
        if explicit:
            route: Route | None = await _off_loop(call.large, self._router.route, call.request, policy, call.routing)
        else:
            route = None
            await _off_loop(call.large, self._router.check_fits, call.request, policy)  # before hashing, embedding
        scope = route.model.name if route is not None else call.scope()
        baseline = self._router.baseline(call.request, call.routing, policy)
        cacheable = self._cacheable(call)
        key = await _off_loop(call.large, self._tier1.key, call.org_id, call.request, scope)
        if cacheable and call.cache.read:
            hit = await self._tier1.get(key)
            if hit is not None and policy.allows(hit.result.model):
                return self._from_cache(call, baseline, hit, "t1")
        probe = None
        if self._tier2 is not None and cacheable:
            probe = await self._tier2.probe(
                call.org_id, call.request, scope, read=call.cache.read, delta=policy.tier2_target_error,
                large=call.large,
            )
            if probe.decision.hit:
                answer = self._tier2.answer_for(probe.decision, call.request)
                if answer is not None and policy.allows(answer.result.model):
                    self._tier2.served(call.request_id, call.org_id, probe.decision)
                    return self._from_cache(call, baseline, answer, "t2", probe.decision.similarity)
        if route is None:
            embedding = await self._router_vector(call, probe)
            route = await _off_loop(call.large, self._router.route, call.request, policy, call.routing, embedding,
                                    call.org_id)
        plan = Plan(route, baseline, key if cacheable and call.cache.write else None, cacheable, probe,
                    PrefixCaching(call.org_id, self._config.prompt_caching), await self.account(call.org_id))
        hold = await self._hold(call, policy, route)
        try:
            if self._cascade is not None and self._cascade.applies(call, route, policy.cascade):
                return await self._cascaded(call, plan, self._cascade, hold)
            if call.request.stream:
                return await self._stream(call, plan, hold)
            return await self._complete(call, plan, hold)
        except BaseException:
            self.release(hold)
            raise

    async def _hold(self, call: Call, policy: OrgPolicy, route: Route) -> Hold | None:
        """Reserve the request's worst case against every budget of its org and key, before any provider call;
        `BudgetExceeded` (429) when a hard one would go past its limit."""
        if self._budgets is None or not (policy.budgets or call.key.budgets):
            return None
        worst = await _off_loop(call.large, worst_case_usd, call.request, [route.model, *route.fallbacks])
        return await self.hold(call, policy, worst)

    async def hold(self, call: Call, policy: OrgPolicy, worst_usd: float) -> Hold | None:
        """The budget step on its own, for the endpoints beside chat (embeddings, legacy completions): hold
        `worst_usd`; settle it with `settle`, or give it back with `release` if the request dies."""
        if self._budgets is None:
            return None
        budget_refs = refs(call.org_id, policy.budgets, call.key.id, list(call.key.budgets))
        if not budget_refs:
            return None
        refused_by = (f"key:{call.key.id}", audit.Context(call.request_id, call.client))
        return await self._budgets.reserve(budget_refs, worst_usd, policy.alert_webhook_url, refused_by)

    async def settle(self, hold: Hold | None, cost_usd: float | None) -> None:
        """Replace the hold with the request's actual cost (None: unknown, the hold stays counted as spent)."""
        if hold is not None and self._budgets is not None:
            await asyncio.shield(self._budgets.settle(hold, cost_usd))

    def release(self, hold: Hold | None) -> None:
        """A request that died (an error, a cancelled client) gives its hold back; as a task of its own, so a
        cancellation cannot interrupt it."""
        if hold is None or hold.settled or self._budgets is None:
            return
        task = asyncio.create_task(self._budgets.settle(hold, 0.0))
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def settled(self) -> None:
        """Wait for releases in flight (tests, shutdown)."""
        while self._releasing:
            await asyncio.gather(*self._releasing, return_exceptions=True)
        if self._budgets is not None:
            await self._budgets.drain()

    async def _router_vector(self, call: Call, probe: Probe | None) -> Vector | None:
        """The prompt as the learned router reads it (MiniLM): tier 2's confirmation vector when it ran one, else
        embedded now. Only requests Asahi routes pay for it; without a vector the router takes the org default."""
        if probe is not None and probe.decision.confirmed is not None:
            return probe.decision.confirmed
        if self._router_embedder is None:
            return None
        try:
            vectors = await self._router_embedder.embed([call.request.last_user_text()])
        except EmbeddingError:
            return None
        vector: Vector = vectors[0]
        return vector

    def open_breakers(self) -> list[tuple[str, str, BreakerState]]:
        return self._resilience.open_breakers()

    async def _rate_limit(self, key: KeyRecord, policy: OrgPolicy) -> None:
        if policy.requests_per_minute is not None:
            retry_after = await self._limiter.hit(f"org:{key.org_id}:rpm", policy.requests_per_minute, 60)
            if retry_after is not None:
                raise RateLimited("This org's request rate limit is exceeded.", retry_after)
        if key.requests_per_minute is not None:
            retry_after = await self._limiter.hit(f"key:{key.id}:rpm", key.requests_per_minute, 60)
            if retry_after is not None:
                raise RateLimited("This API key's request rate limit is exceeded.", retry_after)

    async def _token_rate(self, call: Call) -> None:
        """A key's tokens per minute, counted at admission: the prompt's estimate and `max_tokens`."""
        if call.key.tokens_per_minute is None:
            return
        tokens = estimate_input_tokens(call.request) + (call.request.max_tokens or 0)
        retry_after = await self._limiter.hit(f"key:{call.key.id}:tpm", call.key.tokens_per_minute, 60, tokens)
        if retry_after is not None:
            raise RateLimited("This API key's token rate limit is exceeded.", retry_after)

    def _cacheable(self, call: Call) -> bool:
        temperature = call.request.temperature
        return (
            temperature is None
            or temperature <= self._config.max_temperature
            or call.cache.allow_high_temperature
        )

    def _from_cache(
        self, call: Call, baseline: ModelInfo | None, answer: CachedAnswer, tier: CacheStatus,
        similarity: float | None = None,
    ) -> Outcome:
        result = answer.result
        measured_against = baseline or self._router.catalog.get(result.model)
        outcome = Outcome(
            request_id=call.request_id, model=result.model, provider=result.provider, cache=tier,
            routing_reason=f"answered from the tier {tier[1]} cache", similarity=similarity,
            bill=bill.cache_hit(measured_against, result.usage, "tier1" if tier == "t1" else "tier2"),
        )
        self.record(call, outcome, result.usage, status=200, upstream_seconds=0.0)
        if call.request.stream:
            outcome.events = _replay(answer.events or events_from_result(result))
        else:
            outcome.result = replace(result, id=call.request_id, created=int(time.time()))
        return outcome

    def _chain(self, route: Route) -> list[tuple[Provider, str]]:
        return [(self._providers[m.provider], m.name) for m in (route.model, *route.fallbacks)]

    def _deadline(self) -> float:
        return self._resilience.deadline_in(self._config.request_timeout)

    async def _complete(self, call: Call, plan: Plan, hold: Hold | None) -> Outcome:
        upstream_started = time.perf_counter()
        try:
            result, attempts = await self._resilience.complete(
                self._chain(plan.route), call.request, self._deadline(), _prepare(plan.tier3), plan.account,
            )
        except AsahiError as exc:
            self._failed(call, plan.route, exc, time.perf_counter() - upstream_started)
            await self.settle(hold, 0.0)
            raise
        upstream = time.perf_counter() - upstream_started
        answered_by = _answered_by(plan.route, attempts[-1].model if attempts else plan.route.model.name)
        outcome = self._answered(call, plan, answered_by, result.usage)
        outcome.result = replace(result, id=call.request_id)
        complete = finished_cleanly(result)
        # Cached under the catalog's name (providers answer with dated ones) so policies can judge it later.
        cached = replace(result, model=answered_by.name, provider=answered_by.provider)
        if plan.key is not None and complete:
            await self._tier1.put(plan.key, CachedAnswer(cached))
        self._after_tier2(call, plan, cached, complete)
        self.record(call, outcome, result.usage, status=200, upstream_seconds=upstream)
        await self.settle(hold, outcome.bill.cost.usd)
        if self._verifier is not None:
            self._verifier.answered(call, plan.route, result)
        return outcome

    async def _cascaded(self, call: Call, plan: Plan, cascade: Cascade, hold: Hold | None) -> Outcome:
        """The cheap model's answer when its check passes, else the strong model's; a stream is the replay of the
        answer kept, since nothing may reach the client before the check."""
        upstream_started = time.perf_counter()
        try:
            cascaded = await cascade.answer(call, plan.route, _prepare(plan.tier3), plan.account)
        except AsahiError as exc:
            self._failed(call, plan.route, exc, time.perf_counter() - upstream_started)
            await self.settle(hold, 0.0)
            raise
        upstream = time.perf_counter() - upstream_started
        result = replace(cascaded.result, id=call.request_id)
        outcome = self._answered(call, plan, cascaded.model, result.usage)
        outcome.routing_reason = f"{plan.route.reason}; {cascaded.reason}"
        complete = finished_cleanly(result)
        cached = replace(result, model=cascaded.model.name, provider=cascaded.model.provider)
        if plan.key is not None and complete:
            await self._tier1.put(plan.key, CachedAnswer(cached))
        self._after_tier2(call, plan, cached, complete)
        self.record(call, outcome, result.usage, status=200, upstream_seconds=upstream)
        await self.settle(hold, outcome.bill.cost.usd)
        if call.request.stream:
            outcome.events = _replay(events_from_result(result))
        else:
            outcome.result = result
        return outcome

    async def _stream(self, call: Call, plan: Plan, hold: Hold | None) -> Outcome:
        upstream_started = time.perf_counter()
        try:
            handle = await self._resilience.stream(
                self._chain(plan.route), call.request, self._deadline(), _prepare(plan.tier3),
                idle_timeout=self._config.request_timeout, account=plan.account,
            )
        except AsahiError as exc:
            self._failed(call, plan.route, exc, time.perf_counter() - upstream_started)
            await self.settle(hold, 0.0)
            raise
        answered_by = _answered_by(plan.route, handle.model)
        outcome = Outcome(
            request_id=call.request_id, model=answered_by.name, provider=answered_by.provider,
            cache="miss" if plan.cacheable else "bypass", routing_reason=plan.route.reason,
            alternatives=plan.route.alternatives, overhead_ms=(upstream_started - call.started) * 1000,
        )
        outcome.events = self._relay(call, plan, outcome, handle.events, answered_by, upstream_started, hold)
        self.release_when_dropped(outcome.events, hold)
        return outcome

    def release_when_dropped(self, events: object, hold: Hold | None) -> None:
        """A stream the client left before it started is never run, so its `finally` never settles: give its
        hold back when it is dropped instead of leaving it until it expires."""
        if hold is not None:
            weakref.finalize(events, self.release, hold)

    async def _relay(
        self,
        call: Call,
        plan: Plan,
        outcome: Outcome,
        source: AsyncIterator[StreamEvent],
        answered_by: ModelInfo,
        upstream_started: float,
        hold: Hold | None,
    ) -> AsyncIterator[StreamEvent]:
        """Pass events through as they come; cache and bill once the stream ends cleanly."""
        accumulator = StreamAccumulator()
        status = 499  # the client went away unless the stream ends or fails first
        error_code: str | None = "client_disconnected"
        try:
            async with contextlib.aclosing(cast(AsyncGenerator[StreamEvent, None], source)):  # cancels upstream
                async for event in source:
                    accumulator.add(event)
                    yield event
            status, error_code = 200, None
        except AsahiError as exc:
            status, error_code = exc.status, exc.code
            self._metrics.provider_errors.labels(answered_by.provider, str(exc.status)).inc()
            raise
        finally:
            result = accumulator.result(call.request_id, answered_by.name, answered_by.provider)
            if not accumulator.has_usage:
                # Cut off before the provider reported usage: it still bills what it read and wrote, so
                # record an estimate, flagged as one, rather than a complete $0.
                result.usage = Usage(estimate_input_tokens(call.request), estimate_output_tokens(result))
                outcome.estimated = True
            answered = self._answered(call, plan, answered_by, result.usage)
            outcome.bill, outcome.cache = answered.bill, answered.cache
            if status == 200 and plan.key is not None and accumulator.complete:
                await self._tier1.put(plan.key, CachedAnswer(result, accumulator.events))
            if status == 200:
                self._after_tier2(call, plan, result, accumulator.complete)
                if self._verifier is not None:
                    self._verifier.answered(call, plan.route, result)
            self.record(call, outcome, result.usage, status=status,
                         upstream_seconds=time.perf_counter() - upstream_started, error_code=error_code)
            await self.settle(hold, outcome.bill.cost.usd)

    def _after_tier2(self, call: Call, plan: Plan, result: ChatResult, complete: bool) -> None:
        if self._tier2 is not None and plan.probe is not None:
            store = plan.key is not None and complete
            self._tier2.after_upstream(call.org_id, plan.probe, result, plan.route.model.name, store)

    def _answered(self, call: Call, plan: Plan, model: ModelInfo, usage: Usage) -> Outcome:
        cache: CacheStatus = "bypass" if not plan.cacheable else "t3" if usage.cached_input_tokens else "miss"
        return Outcome(
            request_id=call.request_id, model=model.name, provider=model.provider, cache=cache,
            routing_reason=plan.route.reason, alternatives=plan.route.alternatives,
            bill=bill.answered(model, plan.baseline, usage, prompt_cache_ours=plan.tier3.credited(model.name)),
        )

    def _failed(self, call: Call, route: Route, exc: AsahiError, upstream_seconds: float) -> None:
        self._metrics.provider_errors.labels(route.model.provider, str(exc.status)).inc()
        outcome = Outcome(request_id=call.request_id, model=route.model.name, provider=route.model.provider,
                          cache="miss", routing_reason=route.reason, alternatives=route.alternatives)
        self.record(call, outcome, Usage(), status=exc.status, upstream_seconds=upstream_seconds,
                     error_code=exc.code)

    def record(
        self, call: Call, outcome: Outcome, usage: Usage, status: int, upstream_seconds: float,
        error_code: str | None = None,
    ) -> None:
        """The metrics and the ledger row of one answered (or failed) request, whichever endpoint it came by."""
        elapsed = time.perf_counter() - call.started
        outcome.latency_ms = elapsed * 1000
        if not outcome.deferred:
            outcome.overhead_ms = max(0.0, elapsed - upstream_seconds) * 1000
        self._metrics.observe(call.surface, status, outcome.cache, outcome.overhead_ms, outcome.bill.cost.usd,
                              outcome.bill.saved.usd, outcome.bill.cause)
        self._ledger.record(row_for(call, outcome, usage, status, error_code))


def _prepare(tier3: PrefixCaching) -> Prepare:
    """Tier 3, per link of the chain: send long stable prefixes so that provider's own prompt cache applies."""

    def prepare(request: ChatRequest, provider: Provider, model: str) -> ChatRequest:
        return tier3.prepare(request, provider.name, model)

    return prepare


async def _off_loop(large: bool, function: Callable[..., T], *args: Any) -> T:
    """Run `function` in a worker thread for a large request, so hashing megabytes never holds the loop."""
    return await asyncio.to_thread(function, *args) if large else function(*args)


def _answered_by(route: Route, model: str) -> ModelInfo:
    return next((m for m in (route.model, *route.fallbacks) if m.name == model), route.model)


async def _replay(events: list[StreamEvent]) -> AsyncIterator[StreamEvent]:
    for event in events:
        yield event
