"""One ledger row per request: what the call asked, what answered it, what it cost and saved, and why."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from asahi.call import Call, Outcome
from asahi.domain import Usage


@dataclass(slots=True)
class UsageRow:
    request_id: str
    org_id: str
    key_id: str | None
    surface: str
    model_requested: str | None
    model_used: str | None
    provider: str | None
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: float | None
    baseline_cost_usd: float | None
    saved_usd: float | None
    prompt_cache_saved_usd: float | None
    cost_complete: bool
    saving_cause: str | None
    cache_tier: int
    cache: str
    routing_reason: str | None
    alternatives: list[list[Any]] | None
    similarity: float | None
    latency_ms: float
    overhead_ms: float
    status: int
    error_code: str | None
    created_at: datetime


FIELDS = tuple(f.name for f in fields(UsageRow))


def row_for(call: Call, outcome: Outcome, usage: Usage, status: int, error_code: str | None = None) -> UsageRow:
    bill = outcome.bill
    return UsageRow(
        request_id=call.request_id, org_id=call.org_id, key_id=call.key.id, surface=call.surface,
        model_requested=call.request.model, model_used=outcome.model, provider=outcome.provider,
        input_tokens=usage.input_tokens, output_tokens=usage.output_tokens,
        cached_input_tokens=usage.cached_input_tokens, cache_write_tokens=usage.cache_write_tokens,
        reasoning_tokens=usage.reasoning_tokens, cost_usd=bill.cost.usd, baseline_cost_usd=bill.baseline.usd,
        saved_usd=bill.saved.usd, prompt_cache_saved_usd=bill.prompt_cache_saved.usd,
        cost_complete=bill.cost.complete and bill.baseline.complete and not outcome.estimated,
        saving_cause=bill.cause, cache_tier=outcome.cache_tier, cache=outcome.cache,
        routing_reason=outcome.routing_reason[:500] if outcome.routing_reason else None,
        alternatives=[list(a) for a in outcome.alternatives] or None, similarity=outcome.similarity,
        latency_ms=outcome.latency_ms, overhead_ms=outcome.overhead_ms, status=status, error_code=error_code,
        created_at=datetime.now(UTC),
    )
