"""What one answered request cost, what it would have cost without Asahi, and which cause saved the difference.

The baseline is what the caller would have paid going straight to the provider: the model they named (or the
org's baseline model under routing) with no provider prompt cache. The saving splits into the part the provider's
prompt cache made (tier 3, from the cached and written tokens the provider reported, never estimated) and the
part routing made (a cheaper model than the baseline). Cache writes are billed above the input price, so a
request that only wrote its prefix shows tier 3 as a cost: the figures are honest, not flattering.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from asahi.domain import Usage
from asahi.ledger.pricing import FREE, UNKNOWN, Cost, price
from asahi.routing.catalog import ModelInfo

# routing_verification: the cost of labelling routed requests (a negative saving: every figure is net of it).
Cause = Literal["tier1", "tier2", "tier3", "routing", "routing_verification"]


@dataclass(frozen=True, slots=True)
class Bill:
    cost: Cost
    baseline: Cost
    saved: Cost  # baseline − cost; negative when Asahi's choices cost more (e.g. prompt-cache writes not yet read)
    cause: Cause | None  # what made the saving, None when nothing was saved
    prompt_cache_saved: Cost = FREE  # the part of `saved` the provider's prompt cache made (tier 3)


UNBILLED = Bill(UNKNOWN, UNKNOWN, UNKNOWN, None)


def uncached(usage: Usage) -> Usage:
    """The same usage as if no provider prompt cache had applied."""
    return Usage(usage.input_tokens, usage.output_tokens, 0, 0, usage.reasoning_tokens)


def _minus(a: Cost, b: Cost) -> Cost:
    if a.usd is None or b.usd is None:
        return UNKNOWN
    return Cost(round(a.usd - b.usd, 10))


def cache_hit(baseline_model: ModelInfo | None, usage: Usage, tier: Literal["tier1", "tier2"]) -> Bill:
    """An answer served from Asahi's own cache costs nothing upstream; all of the baseline is saved."""
    baseline = price(baseline_model, uncached(usage))
    return Bill(FREE, baseline, baseline, tier)


def answered(model: ModelInfo, baseline_model: ModelInfo | None, usage: Usage, *, prompt_cache_ours: bool = True
             ) -> Bill:
    """An answer from `model`, measured against `baseline_model` (the same model when None).

    `prompt_cache_ours`: the provider cached this prompt because of what Asahi sent (tier 3's breakpoints). When
    it would have cached it anyway (OpenAI's automatic caching, or the caller's own breakpoints), the baseline is
    billed with the same cached tokens: that part is not Asahi's saving."""
    measured = baseline_model or model
    cost = price(model, usage)
    if not prompt_cache_ours:
        baseline = price(measured, usage)
        saved = _minus(baseline, cost)
        return Bill(cost, baseline, saved, "routing" if saved.usd and measured is not model else None)
    without_prompt_cache = price(model, uncached(usage))
    baseline = price(measured, uncached(usage))
    saved = _minus(baseline, cost)
    prompt_cache = _minus(without_prompt_cache, cost)
    cause: Cause | None = None
    if saved.usd:
        routed = measured.name != model.name and _minus(baseline, without_prompt_cache).usd
        cause = "routing" if routed else "tier3"
    return Bill(cost, baseline, saved, cause, prompt_cache)
