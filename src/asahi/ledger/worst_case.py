"""The most a request can cost before it is sent: what a hard budget holds for it.

Input is the prompt's token estimate (with a tenth on top for the estimate's error), output is `max_tokens` or,
without it, the model's output cap, for each of `n` choices; priced at the catalog's prices of the dearest model
the request may end up on (the route and its fallbacks). A model without prices holds nothing: its spend cannot
be known, and the ledger marks it incomplete.
"""

from __future__ import annotations

import math

from asahi.domain import ChatRequest, Usage
from asahi.ledger.pricing import price
from asahi.routing.catalog import ModelInfo
from asahi.routing.cost import estimate_input_tokens

INPUT_MARGIN = 1.1


def worst_case_usd(request: ChatRequest, models: list[ModelInfo]) -> float:
    prompt = math.ceil(estimate_input_tokens(request) * INPUT_MARGIN)
    dearest = 0.0
    for model in models:
        output = (request.max_tokens or model.max_output_tokens) * max(1, request.n)
        dearest = max(dearest, price(model, Usage(prompt, output)).usd or 0.0)
    return dearest


def worst_case_tokens_usd(model: ModelInfo, input_tokens: int, output_tokens: int) -> float:
    """The same for an endpoint whose tokens the caller counted (embeddings, legacy completions)."""
    return price(model, Usage(math.ceil(input_tokens * INPUT_MARGIN), output_tokens)).usd or 0.0
