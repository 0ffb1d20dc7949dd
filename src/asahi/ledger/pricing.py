"""What a request cost, priced the way each provider bills it.

Cached input tokens are billed at the provider's cache-read price and cache writes at its write price; the rest
of the input at the input price. A model without a known price yields `complete=False` and no figure, never $0.
"""

from __future__ import annotations

from dataclasses import dataclass

from asahi.domain import Usage
from asahi.routing.catalog import ModelInfo

PER_TOKEN = 1_000_000


@dataclass(frozen=True, slots=True)
class Cost:
    usd: float | None

    @property
    def complete(self) -> bool:
        return self.usd is not None


UNKNOWN = Cost(None)
FREE = Cost(0.0)


def price(model: ModelInfo | None, usage: Usage) -> Cost:
    if model is None or not model.priced:
        return UNKNOWN
    assert model.input_price is not None and model.output_price is not None
    cached = min(usage.cached_input_tokens, usage.input_tokens)
    written = min(usage.cache_write_tokens, usage.input_tokens - cached)
    fresh = usage.input_tokens - cached - written
    usd = (
        fresh * model.input_price
        + cached * (model.cached_input_price if model.cached_input_price is not None else model.input_price)
        + written * (model.cache_write_price if model.cache_write_price is not None else model.input_price)
        + usage.output_tokens * model.output_price
    ) / PER_TOKEN
    return Cost(round(usd, 10))
