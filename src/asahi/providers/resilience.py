"""Retries, fallback chains, circuit breakers and a deadline around provider calls.

The caller passes the chain, a list of (provider, model) links in preference order. Each link is retried on
transient failures (429, 5xx, 529, timeouts) with exponential backoff and jitter, honouring the provider's
`retry_after`; when a link gives up the next one is tried. A breaker per provider+model stops sending traffic
to a link that keeps failing and lets one probe through after a cool-down, so an outage costs one timeout per
cool-down instead of one per request. Everything stops at the request's deadline.

A stream falls back only until its first event: once bytes have gone to the client another model cannot
continue them, so a later failure is raised from the iterator.

Errors about the request itself (400, 413, 422) would fail the same way on every link and are raised at once;
errors about a provider's account or model (401, 403, 404) skip to the next link without retrying.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, TypeVar

from asahi.domain import ChatRequest, ChatResult, StreamEvent
from asahi.errors import ProviderError
from asahi.providers.base import Account, Provider
from asahi.providers.upstream_errors import timeout_error

Chain = Sequence[tuple[Provider, str]]
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
Prepare = Callable[[ChatRequest, Provider, str], ChatRequest]
T = TypeVar("T")

REQUEST_ERROR_STATUSES = frozenset({400, 413, 422})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int = 2  # retries per link after its first try (config routing.max_retries)
    base_delay: float = 0.25  # seconds before the first retry; doubles each retry
    max_delay: float = 8.0  # cap on one backoff; a longer retry_after moves on to the next link instead
    attempt_timeout: float | None = None  # per try; None lets a try use all the time left


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; after `cooldown` seconds lets exactly one probe through."""

    def __init__(self, threshold: int, cooldown: float, clock: Clock) -> None:
        self._threshold = threshold
        self._cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._probing or self._clock() - self._opened_at >= self._cooldown:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._probing or self._failures >= self._threshold:
            self._opened_at = self._clock()
        self._probing = False

    def release(self) -> None:
        """A probe that ended without a verdict (a request error, a cancelled call) frees the probe slot."""
        self._probing = False


Outcome = Literal["ok", "error", "timeout", "circuit_open", "deadline"]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of one link, for logs, metrics and the ledger."""

    provider: str
    model: str
    outcome: Outcome
    status: int | None = None
    code: str | None = None
    elapsed: float = 0.0


class ChainExhausted(ProviderError):
    """Every link failed, was open, or the deadline passed. Carries the last upstream status and all attempts."""

    def __init__(self, last: ProviderError | None, attempts: list[Attempt]) -> None:
        tried = ", ".join(f"{a.provider}/{a.model}: {a.status or a.outcome}" for a in attempts) or "nothing"
        super().__init__(
            last.status if last else 503,
            last.code if last else "providers_unavailable",
            f"{last.message} (attempts: {tried})" if last else f"No provider could answer (attempts: {tried}).",
            provider=last.provider if last else "asahi",
            retry_after=last.retry_after if last else None,
            retryable=True,
        )
        self.attempts = attempts


@dataclass(slots=True)
class StreamHandle:
    """A stream whose first event has arrived: who is answering, and the events from the first on."""

    provider: str
    model: str
    events: AsyncIterator[StreamEvent]
    attempts: list[Attempt] = field(default_factory=list)


class _Timeout(Exception):
    pass


class Resilience:
    """Holds the breakers, so build one per process and share it across requests.

    `deadline` arguments are absolute times on `clock` (by default `time.monotonic()`).
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        breaker_threshold: int = 5,
        breaker_cooldown: float = 30.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._threshold = breaker_threshold
        self._cooldown = breaker_cooldown
        # (provider, model, account): the operator's account is "", an org's own (BYOK) "org:<id>", so an org
        # whose own key is rate limited or failing never opens the link for everyone else.
        self._breakers: dict[tuple[str, str, str], CircuitBreaker] = {}

    def breaker(self, provider: str, model: str, account: str = "") -> CircuitBreaker:
        key = (provider, model, account)
        if key not in self._breakers:
            self._breakers[key] = CircuitBreaker(self._threshold, self._cooldown, self.clock)
        return self._breakers[key]

    def open_breakers(self) -> list[tuple[str, str, BreakerState]]:
        """(provider, model, state) of every breaker of the operator's accounts not closed: links currently
        refused or on probation."""
        return [(provider, model, b.state) for (provider, model, account), b in self._breakers.items()
                if not account and b.state is not BreakerState.CLOSED]

    def deadline_in(self, seconds: float) -> float:
        return self.clock() + seconds

    async def complete(
        self, chain: Chain, request: ChatRequest, deadline: float, prepare: Prepare | None = None,
        account: Account | None = None,
    ) -> tuple[ChatResult, list[Attempt]]:
        """The first successful answer along the chain, and every attempt made to get it.

        `prepare` adapts the request to each link (e.g. provider-specific prompt-cache markers)."""

        async def call(provider: Provider, model: str) -> ChatResult:
            on = None if account is None else account.for_provider(provider.name)
            return await provider.complete(prepare(request, provider, model) if prepare else request, model, on)

        attempts: list[Attempt] = []
        result = await self._run(chain, deadline, attempts, call, account)
        return result, attempts

    async def stream(
        self, chain: Chain, request: ChatRequest, deadline: float, prepare: Prepare | None = None,
        idle_timeout: float | None = None, account: Account | None = None,
    ) -> StreamHandle:
        """Walk the chain until a stream yields its first event; the caller then sends headers naming the model.

        Returns once the first event is in hand. Later failures are raised from `events` and count against that
        link's breaker. `deadline` bounds every later event too, unless `idle_timeout` is given: then each event
        need only follow the previous one within it, so a long but healthy generation is never cut off.
        """
        attempts: list[Attempt] = []
        opened: list[tuple[Provider, str, AsyncIterator[StreamEvent]]] = []

        async def first(provider: Provider, model: str) -> StreamEvent:
            on = None if account is None else account.for_provider(provider.name)
            iterator = aiter(provider.stream(prepare(request, provider, model) if prepare else request, model, on))
            try:
                event = await anext(iterator)
            except BaseException:
                await _close(iterator)
                raise
            opened.append((provider, model, iterator))
            return event

        first_event = await self._run(chain, deadline, attempts, first, account)
        provider, model, iterator = opened[-1]
        breaker = self.breaker(provider.name, model, _account_scope(account, provider.name))
        return StreamHandle(
            provider.name, model, self._rest(first_event, iterator, provider.name, breaker, deadline, idle_timeout),
            attempts,
        )

    async def _rest(
        self, first: StreamEvent, iterator: AsyncIterator[StreamEvent], provider: str, breaker: CircuitBreaker,
        deadline: float, idle_timeout: float | None,
    ) -> AsyncIterator[StreamEvent]:
        try:
            yield first
            while True:
                try:
                    until = deadline if idle_timeout is None else self.clock() + idle_timeout
                    event = await self._within(anext(iterator), until, None)
                except StopAsyncIteration:
                    return
                except _Timeout:
                    breaker.record_failure()
                    raise timeout_error(provider) from None
                except ProviderError as error:
                    if _counts_against_link(error):
                        breaker.record_failure()
                    raise
                yield event
        finally:
            await _close(iterator)

    async def _run(
        self,
        chain: Chain,
        deadline: float,
        attempts: list[Attempt],
        call: Callable[[Provider, str], Awaitable[T]],
        account: Account | None = None,
    ) -> T:
        last: ProviderError | None = None
        for provider, model in chain:
            breaker = self.breaker(provider.name, model, _account_scope(account, provider.name))
            for retry in range(self.policy.max_retries + 1):
                if self.clock() >= deadline:
                    attempts.append(Attempt(provider.name, model, "deadline"))
                    raise ChainExhausted(last, attempts)
                if not breaker.allow():
                    attempts.append(Attempt(provider.name, model, "circuit_open"))
                    break
                started = self.clock()
                try:
                    result = await self._within(call(provider, model), deadline, self.policy.attempt_timeout)
                except _Timeout:
                    breaker.record_failure()
                    attempts.append(Attempt(provider.name, model, "timeout", 504, "timeout", self.clock() - started))
                    last = timeout_error(provider.name)
                    if not await self._backoff(retry, None, deadline):
                        break
                    continue
                except ProviderError as error:
                    elapsed = self.clock() - started
                    attempts.append(Attempt(provider.name, model, "error", error.status, error.code, elapsed))
                    last = error
                    if error.status in REQUEST_ERROR_STATUSES and not error.retryable:
                        breaker.release()
                        raise
                    if not _counts_against_link(error):
                        breaker.release()
                        break
                    breaker.record_failure()
                    if not await self._backoff(retry, error.retry_after, deadline):
                        break
                    continue
                except BaseException:
                    breaker.release()
                    raise
                breaker.record_success()
                attempts.append(Attempt(provider.name, model, "ok", elapsed=self.clock() - started))
                return result
        raise ChainExhausted(last, attempts)

    async def _backoff(self, retry: int, retry_after: float | None, deadline: float) -> bool:
        """Sleep before the next try of this link; False means move on to the next link instead."""
        if retry >= self.policy.max_retries:
            return False
        ceiling = min(self.policy.max_delay, self.policy.base_delay * 2**retry)
        delay = ceiling / 2 + self._rng.uniform(0, ceiling / 2)  # "equal jitter": spread, but never near zero
        if retry_after is not None:
            if retry_after > self.policy.max_delay:
                return False
            delay = max(delay, retry_after)
        if self.clock() + delay >= deadline:
            return False
        await self._sleep(delay)
        return True

    async def _within(self, awaitable: Awaitable[T], deadline: float, cap: float | None) -> T:
        remaining = deadline - self.clock()
        if cap is not None:
            remaining = min(remaining, cap)
        try:
            # asyncio.timeout, unlike wait_for, runs the call in this task: no extra task per attempt.
            async with asyncio.timeout(max(remaining, 0.0)):
                return await awaitable
        except TimeoutError:
            raise _Timeout from None


def _account_scope(account: Account | None, provider: str) -> str:
    """Whose account a link's breaker counts for: "" the operator's, "org:<id>" an org's own key."""
    return f"org:{account.org_id}" if account is not None and account.credentials.get(provider) else ""


def _counts_against_link(error: ProviderError) -> bool:
    """Transient failures say the link is unhealthy; retry it and count them against its breaker.

    The adapter that saw the upstream answer decides what is transient: a 502 Asahi reports for an upstream 401
    (a bad provider key) will not heal by retrying, a 502 for an upstream 500 may."""
    return error.retryable


async def _close(iterator: AsyncIterator[StreamEvent]) -> None:
    aclose = getattr(iterator, "aclose", None)
    if aclose is not None:
        await aclose()
