"""The request path on its own: a pipeline built from in-process parts and a scripted provider, each step on and
off. The surfaces, the database and the network are tested elsewhere; here only the path's decisions are."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from asahi.cache.exact import CacheUnavailable, MemoryExactCache
from asahi.cache.tier1 import Tier1
from asahi.call import CacheDirective, Call
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
from asahi.errors import AsahiError, ProviderError, RateLimited
from asahi.governance.keys import KeyRecord
from asahi.governance.policy import OrgPolicy, OrgState
from asahi.governance.ratelimit import RateLimiter
from asahi.ledger.rows import UsageRow
from asahi.observability.metrics import Metrics
from asahi.pipeline import Pipeline, PipelineConfig
from asahi.providers.base import Account
from asahi.providers.resilience import Resilience, RetryPolicy
from asahi.routing.catalog import Catalog
from asahi.routing.hints import AUTO_MODEL, RoutingHints
from asahi.routing.router import Router

MODELS = {
    "big": {"provider": "scripted", "input": 10.0, "output": 30.0, "quality": 5, "capabilities": ["json"]},
    "small": {"provider": "scripted", "input": 1.0, "output": 3.0, "quality": 3, "capabilities": ["json"]},
}
KEY = KeyRecord("key-1", "org-1", "k", "abc", frozenset({"infer"}), datetime.now(UTC), None, None)


@dataclass
class ScriptedProvider:
    """Answers every call with `text`; records what it was asked; fails while `failures` lasts."""

    name: str = "scripted"
    text: str = "An answer."
    usage: Usage = field(default_factory=lambda: Usage(100, 10))
    failures: list[ProviderError] = field(default_factory=list)
    calls: list[tuple[str, Account | None]] = field(default_factory=list)
    finish: str = "stop"

    async def complete(self, request: ChatRequest, model: str, account: Account | None = None) -> ChatResult:
        self.calls.append((model, account))
        if self.failures:
            raise self.failures.pop(0)
        choice = Choice(0, Message("assistant", [TextPart(self.text)]), self.finish)  # type: ignore[arg-type]
        return ChatResult("up-1", f"{model}-2026-01-01", self.name, [choice], self.usage, 0)

    async def stream(
        self, request: ChatRequest, model: str, account: Account | None = None
    ) -> AsyncIterator[StreamEvent]:
        self.calls.append((model, account))
        for word in self.text.split(" "):
            yield TextDelta(0, word + " ")
        yield FinishEvent(0, self.finish)  # type: ignore[arg-type]
        yield UsageEvent(self.usage)

    async def aclose(self) -> None:
        return None


class Policies:
    def __init__(self, policy: OrgPolicy | None = None) -> None:
        self.policy = policy or OrgPolicy()

    async def get(self, org_id: str) -> OrgPolicy:
        return self.policy

    async def state(self, org_id: str) -> OrgState:
        return OrgState(self.policy)


class Ledger:
    def __init__(self) -> None:
        self.rows: list[UsageRow] = []
        self.accepting = True

    def record(self, row: UsageRow) -> None:
        self.rows.append(row)


class BrokenCache:
    name = "broken"

    async def get(self, key: str) -> bytes | None:
        raise CacheUnavailable("down")

    async def put(self, key: str, value: bytes, ttl_seconds: int) -> None:
        raise CacheUnavailable("down")


@dataclass
class Path:
    pipeline: Pipeline
    provider: ScriptedProvider
    ledger: Ledger
    metrics: Metrics


def build(policy: OrgPolicy | None = None, cache: Any = None, fallbacks: dict[str, list[str]] | None = None) -> Path:
    provider, ledger, metrics = ScriptedProvider(), Ledger(), Metrics()
    catalog = Catalog.from_entries(MODELS)
    router = Router(catalog, None, default_model="small", baseline_model="big", fallbacks=fallbacks)
    pipeline = Pipeline(
        router=router, providers={"scripted": provider}, policies=Policies(policy),  # type: ignore[arg-type]
        limiter=RateLimiter(), tier1=Tier1(cache or MemoryExactCache(1 << 20), metrics, 60), tier2=None,
        config=PipelineConfig(max_temperature=0.7, request_timeout=10), ledger=ledger,  # type: ignore[arg-type]
        metrics=metrics, resilience=Resilience(RetryPolicy(max_retries=0, base_delay=0)),
    )
    return Path(pipeline, provider, ledger, metrics)


def call(text: str = "What is 2 + 2?", model: str = "big", rid: str = "req-1", **fields: Any) -> Call:
    cache = fields.pop("cache", CacheDirective())
    request = ChatRequest(model=model, messages=[Message("user", [TextPart(text)])], **fields)
    return Call(rid, "openai", KEY, request, cache=cache, routing=RoutingHints())


async def test_a_miss_goes_upstream_on_the_orgs_account_and_is_billed() -> None:
    path = build()
    outcome = await path.pipeline.run(call())
    assert outcome.cache == "miss" and outcome.result is not None and outcome.result.id == "req-1"
    assert path.provider.calls == [("big", Account("org-1"))]
    (row,) = path.ledger.rows
    assert (row.cache, row.model_used, row.status, row.saved_usd) == ("miss", "big", 200, 0.0)
    assert row.cost_usd == pytest.approx((100 * 10.0 + 10 * 30.0) / 1e6)


async def test_the_same_request_again_is_a_tier1_hit_saving_the_whole_cost() -> None:
    path = build()
    await path.pipeline.run(call())
    hit = await path.pipeline.run(call(rid="req-2"))
    assert hit.cache == "t1" and len(path.provider.calls) == 1
    assert hit.result is not None and hit.result.id == "req-2"
    assert path.ledger.rows[1].saved_usd == path.ledger.rows[0].cost_usd and path.ledger.rows[1].cost_usd == 0.0


@pytest.mark.parametrize(
    ("directive", "calls"),
    [(CacheDirective(read=False), 2), (CacheDirective(write=False), 2), (CacheDirective(), 1)],
)
async def test_cache_directives_steer_tier1(directive: CacheDirective, calls: int) -> None:
    path = build()
    await path.pipeline.run(call(cache=directive))
    await path.pipeline.run(call(cache=directive))
    assert len(path.provider.calls) == calls


async def test_above_the_temperature_cap_nothing_is_cached_unless_forced() -> None:
    path = build()
    for _ in range(2):
        assert (await path.pipeline.run(call(temperature=1.2))).cache == "bypass"
    forced = CacheDirective(allow_high_temperature=True)
    await path.pipeline.run(call(temperature=1.2, cache=forced))
    assert (await path.pipeline.run(call(temperature=1.2, cache=forced))).cache == "t1"


async def test_a_broken_tier1_means_uncached_not_failed() -> None:
    path = build(cache=BrokenCache())
    for _ in range(2):
        assert (await path.pipeline.run(call())).cache == "miss"
    assert path.metrics.cache_errors.labels("t1")._value.get() == 4  # two reads, two writes


async def test_a_cut_off_answer_is_never_cached() -> None:
    path = build()
    path.provider.finish = "length"
    await path.pipeline.run(call())
    await path.pipeline.run(call())
    assert len(path.provider.calls) == 2


async def test_a_refused_model_gets_no_answer_even_from_the_cache() -> None:
    path = build()
    await path.pipeline.run(call())
    path.pipeline._policies = Policies(OrgPolicy(allowed_models=["small"]))  # type: ignore[assignment]
    with pytest.raises(AsahiError) as refused:
        await path.pipeline.run(call())
    assert refused.value.status == 403 and len(path.provider.calls) == 1


async def test_the_org_rate_limit_refuses_before_any_work() -> None:
    path = build(OrgPolicy(requests_per_minute=1))
    await path.pipeline.run(call())
    with pytest.raises(RateLimited):
        await path.pipeline.run(call(text="another"))
    assert len(path.provider.calls) == 1


async def test_autopilot_without_an_embedding_takes_the_default_and_saves_against_the_baseline() -> None:
    path = build()
    outcome = await path.pipeline.run(call(model=AUTO_MODEL))
    assert outcome.model == "small" and outcome.bill.cause == "routing"
    assert outcome.bill.saved.usd == pytest.approx((100 * 9.0 + 10 * 27.0) / 1e6)
    assert path.ledger.rows[0].routing_reason and path.ledger.rows[0].alternatives


async def test_a_failed_call_is_in_the_ledger_with_its_status() -> None:
    path = build()
    path.provider.failures.append(ProviderError(503, "provider_unavailable", "down", provider="scripted"))
    with pytest.raises(AsahiError):
        await path.pipeline.run(call())
    (row,) = path.ledger.rows
    assert (row.status, row.error_code, row.cost_usd) == (503, "provider_unavailable", None)


async def test_a_fallback_answers_and_is_named_as_the_model_that_did() -> None:
    path = build(fallbacks={"big": ["small"]})
    path.provider.failures.append(ProviderError(503, "provider_unavailable", "down", provider="scripted",
                                                retryable=True))
    outcome = await path.pipeline.run(call())
    assert outcome.model == "small" and [m for m, _ in path.provider.calls] == ["big", "small"]


async def test_a_stream_is_relayed_then_cached_and_billed_when_it_ends() -> None:
    path = build()
    outcome = await path.pipeline.run(call(stream=True))
    assert outcome.events is not None and outcome.headers()["x-asahi-cost-usd"] == "deferred"
    text = "".join([e.text async for e in outcome.events if isinstance(e, TextDelta)])
    assert text.strip() == "An answer."
    assert path.ledger.rows[0].cost_usd and path.ledger.rows[0].status == 200
    replayed = await path.pipeline.run(call(stream=True, rid="req-2"))
    assert replayed.cache == "t1"


async def test_a_stream_the_client_left_is_billed_as_499_and_not_cached() -> None:
    path = build()
    outcome = await path.pipeline.run(call(stream=True))
    assert outcome.events is not None
    events = outcome.events
    await anext(events)
    await events.aclose()  # type: ignore[attr-defined]
    assert path.ledger.rows[0].status == 499
    assert (await path.pipeline.run(call(stream=True))).cache == "miss"


async def test_nothing_is_answered_when_the_ledger_cannot_record_it() -> None:
    path = build()
    path.ledger.accepting = False
    with pytest.raises(AsahiError) as refused:
        await path.pipeline.run(call())
    assert (refused.value.status, refused.value.code) == (503, "ledger_unavailable") and not path.provider.calls
