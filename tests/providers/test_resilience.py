"""Retries, fallback, breakers and deadlines against scripted fake providers; no real sleep above a few ms."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from asahi.domain import (
    ChatRequest,
    ChatResult,
    Choice,
    FinishEvent,
    Message,
    StreamEvent,
    TextDelta,
    TextPart,
    Usage,
    UsageEvent,
)
from asahi.errors import ProviderError
from asahi.providers.base import Account
from asahi.providers.resilience import (
    BreakerState,
    ChainExhausted,
    Resilience,
    RetryPolicy,
)

HANG = "hang"


def result(provider: str, model: str) -> ChatResult:
    message = Message("assistant", [TextPart(f"from {model}")])
    return ChatResult("r1", model, provider, [Choice(0, message, "stop")], Usage(3, 2), 0)


def error(status: int, retry_after: float | None = None, retryable: bool | None = None) -> ProviderError:
    transient = status in {429, 500, 529} if retryable is None else retryable
    return ProviderError(
        status, f"http_{status}", "scripted", provider="fake", retry_after=retry_after, retryable=transient
    )


EVENTS: list[StreamEvent] = [TextDelta(0, "hel"), TextDelta(0, "lo"), FinishEvent(0, "stop"), UsageEvent(Usage(3, 2))]


@dataclass
class FakeProvider:
    """Plays one scripted outcome per call: an error, HANG, "ok", or (stream) an error after n events."""

    name: str
    script: list[object] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def _next(self) -> object:
        return self.script.pop(0) if self.script else "ok"

    async def complete(self, request: ChatRequest, model: str, account: Account | None = None) -> ChatResult:
        self.calls.append(model)
        outcome = self._next()
        if outcome == HANG:
            await asyncio.Event().wait()
        if isinstance(outcome, ProviderError):
            raise outcome
        return result(self.name, model)

    async def stream(
        self, request: ChatRequest, model: str, account: Account | None = None
    ) -> AsyncIterator[StreamEvent]:
        self.calls.append(model)
        outcome = self._next()
        if outcome == HANG:
            await asyncio.Event().wait()
        if isinstance(outcome, ProviderError):
            raise outcome
        fail_after = outcome if isinstance(outcome, tuple) else None
        for n, event in enumerate(EVENTS):
            if fail_after is not None and n == fail_after[0]:
                raise fail_after[1]
            yield event

    async def aclose(self) -> None:
        return None


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


REQUEST = ChatRequest(model="m", messages=[Message("user", [TextPart("hi")])])


def make(clock: FakeClock, **kwargs: object) -> Resilience:
    policy = kwargs.pop("policy", RetryPolicy(max_retries=2, base_delay=0.5, max_delay=8.0))
    return Resilience(policy, clock=clock, sleep=clock.sleep, rng=random.Random(7), **kwargs)  # type: ignore[arg-type]


async def test_429_waits_retry_after_then_succeeds() -> None:
    clock = FakeClock()
    primary = FakeProvider("openai", [error(429, retry_after=3.0)])
    answer, attempts = await make(clock).complete([(primary, "gpt-a")], REQUEST, clock.now + 60)
    assert answer.model == "gpt-a"
    assert clock.sleeps == [3.0]  # retry_after beats the 0.25..0.5 s backoff
    assert [a.outcome for a in attempts] == ["error", "ok"]
    assert attempts[0].status == 429


async def test_retry_after_longer_than_max_delay_falls_back_without_waiting() -> None:
    clock = FakeClock()
    primary = FakeProvider("openai", [error(429, retry_after=60.0)])
    backup = FakeProvider("anthropic")
    answer, _ = await make(clock).complete([(primary, "a"), (backup, "b")], REQUEST, clock.now + 300)
    assert answer.provider == "anthropic"
    assert clock.sleeps == []


async def test_5xx_backoff_grows_exponentially_with_jitter() -> None:
    clock = FakeClock()
    primary = FakeProvider("openai", [error(500), error(529)])
    answer, attempts = await make(clock).complete([(primary, "a")], REQUEST, clock.now + 60)
    assert answer.model == "a"
    assert len(attempts) == 3
    first, second = clock.sleeps
    assert 0.25 <= first <= 0.5  # base 0.5 with equal jitter
    assert 0.5 <= second <= 1.0


async def test_exhausted_retries_fall_back_to_next_link() -> None:
    clock = FakeClock()
    primary = FakeProvider("openai", [error(500)] * 3)
    backup = FakeProvider("anthropic")
    answer, attempts = await make(clock).complete([(primary, "a"), (backup, "b")], REQUEST, clock.now + 60)
    assert (answer.provider, answer.model) == ("anthropic", "b")
    assert primary.calls == ["a"] * 3
    assert [a.outcome for a in attempts] == ["error", "error", "error", "ok"]


async def test_timeout_is_retried_then_falls_back() -> None:
    clock = FakeClock()
    policy = RetryPolicy(max_retries=1, base_delay=0.01, attempt_timeout=0.005)
    primary = FakeProvider("openai", [HANG, HANG])
    backup = FakeProvider("anthropic")
    answer, attempts = await make(clock, policy=policy).complete(
        [(primary, "a"), (backup, "b")], REQUEST, clock.now + 60
    )
    assert answer.provider == "anthropic"
    assert [a.outcome for a in attempts] == ["timeout", "timeout", "ok"]


async def test_request_error_is_raised_at_once() -> None:
    clock = FakeClock()
    primary = FakeProvider("openai", [error(400)])
    backup = FakeProvider("anthropic")
    with pytest.raises(ProviderError) as raised:
        await make(clock).complete([(primary, "a"), (backup, "b")], REQUEST, clock.now + 60)
    assert raised.value.status == 400
    assert backup.calls == []


async def test_account_error_skips_to_next_link_without_retry() -> None:
    clock = FakeClock()
    primary = FakeProvider("openai", [error(401)])
    backup = FakeProvider("anthropic")
    answer, _ = await make(clock).complete([(primary, "a"), (backup, "b")], REQUEST, clock.now + 60)
    assert answer.provider == "anthropic"
    assert primary.calls == ["a"]
    assert clock.sleeps == []


async def test_all_links_fail_raises_last_status_with_attempts() -> None:
    clock = FakeClock()
    primary = FakeProvider("openai", [error(500)] * 3)
    backup = FakeProvider("anthropic", [error(529)] * 3)
    with pytest.raises(ChainExhausted) as raised:
        await make(clock).complete([(primary, "a"), (backup, "b")], REQUEST, clock.now + 60)
    assert raised.value.status == 529
    assert len(raised.value.attempts) == 6


async def test_deadline_stops_retries() -> None:
    clock = FakeClock()
    primary = FakeProvider("openai", [error(500)] * 3)
    with pytest.raises(ChainExhausted) as raised:
        await make(clock).complete([(primary, "a")], REQUEST, clock.now + 0.1)
    assert primary.calls == ["a"]  # the first backoff would cross the deadline
    assert clock.sleeps == []
    assert raised.value.status == 500


async def test_breaker_opens_skips_and_probes_after_cooldown() -> None:
    clock = FakeClock()
    policy = RetryPolicy(max_retries=0)
    resilience = make(clock, policy=policy, breaker_threshold=2, breaker_cooldown=30.0)
    primary = FakeProvider("openai", [error(500), error(500)])
    backup = FakeProvider("anthropic")
    chain = [(primary, "a"), (backup, "b")]
    for _ in range(2):
        await resilience.complete(chain, REQUEST, clock.now + 60)
    assert resilience.breaker("openai", "a").state is BreakerState.OPEN

    _, attempts = await resilience.complete(chain, REQUEST, clock.now + 60)
    assert attempts[0].outcome == "circuit_open"
    assert primary.calls == ["a", "a"]  # not called while open

    clock.now += 31
    assert resilience.breaker("openai", "a").state is BreakerState.HALF_OPEN
    answer, _ = await resilience.complete(chain, REQUEST, clock.now + 60)
    assert answer.provider == "openai"  # the probe succeeded
    assert resilience.breaker("openai", "a").state is BreakerState.CLOSED


async def test_failed_probe_reopens_breaker() -> None:
    clock = FakeClock()
    resilience = make(clock, policy=RetryPolicy(max_retries=0), breaker_threshold=1, breaker_cooldown=10.0)
    primary = FakeProvider("openai", [error(503, retryable=True), error(503, retryable=True)])
    backup = FakeProvider("anthropic")
    await resilience.complete([(primary, "a"), (backup, "b")], REQUEST, clock.now + 60)
    clock.now += 11
    await resilience.complete([(primary, "a"), (backup, "b")], REQUEST, clock.now + 60)
    assert resilience.breaker("openai", "a").state is BreakerState.OPEN


async def test_half_open_admits_a_single_probe() -> None:
    clock = FakeClock()
    resilience = make(clock, breaker_threshold=1, breaker_cooldown=10.0)
    breaker = resilience.breaker("openai", "a")
    breaker.record_failure()
    clock.now += 10
    assert breaker.allow()
    assert not breaker.allow()


async def test_stream_falls_back_before_first_event() -> None:
    clock = FakeClock()
    primary = FakeProvider("openai", [error(529)] * 3)
    backup = FakeProvider("anthropic")
    handle = await make(clock).stream([(primary, "a"), (backup, "b")], REQUEST, clock.now + 60)
    assert (handle.provider, handle.model) == ("anthropic", "b")
    assert [e async for e in handle.events] == EVENTS
    assert [a.outcome for a in handle.attempts] == ["error", "error", "error", "ok"]


async def test_stream_failing_before_first_event_is_retried() -> None:
    clock = FakeClock()
    primary = FakeProvider("openai", [(0, error(500))])
    handle = await make(clock).stream([(primary, "a")], REQUEST, clock.now + 60)
    assert handle.model == "a"
    assert [e async for e in handle.events] == EVENTS
    assert primary.calls == ["a", "a"]


async def test_stream_failure_after_first_event_is_raised_not_fallen_back() -> None:
    clock = FakeClock()
    primary = FakeProvider("openai", [(1, error(500))])
    backup = FakeProvider("anthropic")
    resilience = make(clock, breaker_threshold=1)
    handle = await resilience.stream([(primary, "a"), (backup, "b")], REQUEST, clock.now + 60)
    received: list[StreamEvent] = []
    with pytest.raises(ProviderError):
        async for event in handle.events:
            received.append(event)
    assert received == EVENTS[:1]
    assert backup.calls == []
    assert resilience.breaker("openai", "a").state is BreakerState.OPEN


async def test_stream_first_event_timeout_falls_back() -> None:
    clock = FakeClock()
    policy = RetryPolicy(max_retries=0, attempt_timeout=0.005)
    primary = FakeProvider("openai", [HANG])
    backup = FakeProvider("anthropic")
    handle = await make(clock, policy=policy).stream([(primary, "a"), (backup, "b")], REQUEST, clock.now + 60)
    assert handle.provider == "anthropic"
    assert [a.outcome for a in handle.attempts] == ["timeout", "ok"]


async def test_an_orgs_own_key_failing_opens_only_its_own_breaker() -> None:
    clock = FakeClock()
    resilience = make(clock, policy=RetryPolicy(max_retries=0), breaker_threshold=2, breaker_cooldown=30.0)
    primary = FakeProvider("openai", [error(429), error(429)])
    backup = FakeProvider("anthropic")
    chain = [(primary, "a"), (backup, "b")]
    byok = Account("org-1", credentials={"openai": "sk-org-own"})
    for _ in range(2):
        await resilience.complete(chain, REQUEST, clock.now + 60, account=byok)
    assert resilience.breaker("openai", "a", "org:org-1").state is BreakerState.OPEN
    assert resilience.breaker("openai", "a").state is BreakerState.CLOSED
    assert resilience.open_breakers() == []  # health reports the operator's links only
    answer, _ = await resilience.complete(chain, REQUEST, clock.now + 60, account=Account("org-2"))
    assert answer.provider == "openai"  # another org, on the operator's key, still reaches the link
