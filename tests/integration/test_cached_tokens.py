"""Prompt-cache reads (and Anthropic cache writes) reported by the upstream are billed at their own prices.

The expected figures are worked out here from the catalog's per-million prices, independently of the pricing
module, and compared with the `x-asahi-*` headers and the ledger row. These prompts are too short for Asahi's
breakpoints, so whatever the provider cached it would have cached without Asahi: billed, never credited.
"""

from __future__ import annotations

from typing import Any

import pytest

from asahi.routing.catalog import ModelInfo
from tests.fakes.server import Reply
from tests.integration.conftest import CLAUDE, GPT, Gateway, sse_data, sse_events


def catalog(gateway: Gateway, name: str) -> ModelInfo:
    model: ModelInfo | None = gateway.running.app.state.components.router.catalog.get(name)
    assert model is not None
    return model


def expected_cost(model: ModelInfo, reply: Reply) -> tuple[float, float]:
    """(what the call costs, what it would have cost with no provider prompt cache)."""
    assert model.input_price is not None and model.output_price is not None
    assert model.cached_input_price is not None
    fresh = reply.input_tokens - reply.cached_tokens - reply.cache_write_tokens
    write_price = model.cache_write_price if model.cache_write_price is not None else model.input_price
    cost = (fresh * model.input_price + reply.cached_tokens * model.cached_input_price
            + reply.cache_write_tokens * write_price + reply.output_tokens * model.output_price) / 1e6
    uncached = (reply.input_tokens * model.input_price + reply.output_tokens * model.output_price) / 1e6
    return cost, uncached


CASES = [
    ("openai", GPT, Reply(input_tokens=2000, cached_tokens=1536, output_tokens=10)),
    ("anthropic", CLAUDE, Reply(input_tokens=3000, cached_tokens=2048, cache_write_tokens=512, output_tokens=10)),
]


def body(surface: str, model: str, *, stream: bool) -> dict[str, Any]:
    # Different prompts: a streamed request for the same prompt would be a tier 1 hit on the first answer.
    text = "Stream a summary." if stream else "Summarise the doc."
    request: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}], "stream": stream}
    if surface == "openai":
        return request | ({"stream_options": {"include_usage": True}} if stream else {})
    return request | {"max_tokens": 100}


def fake_for(gateway: Gateway, model: str) -> Any:
    return gateway.anthropic if model == CLAUDE else gateway.openai


@pytest.mark.parametrize(("upstream", "model", "reply"), CASES)
async def test_cached_input_is_priced_at_the_cache_price(
    gateway: Gateway, upstream: str, model: str, reply: Reply
) -> None:
    cost, uncached = expected_cost(catalog(gateway, model), reply)
    assert cost < uncached
    path = "/v1/chat/completions" if upstream == "openai" else "/v1/messages"
    fake_for(gateway, model).script(reply, reply)
    response = await gateway.post(path, body(upstream, model, stream=False))
    assert response.status_code == 200, response.text
    assert response.headers["x-asahi-cost-usd"] == f"{cost:.8f}"
    assert response.headers["x-asahi-saved-usd"] == f"{0:.8f}"
    usage = response.json()["usage"]
    if upstream == "openai":
        assert usage["prompt_tokens"] == reply.input_tokens
        assert usage["prompt_tokens_details"]["cached_tokens"] == reply.cached_tokens
    else:
        assert usage == {"input_tokens": 440, "output_tokens": 10, "cache_creation_input_tokens": 512,
                         "cache_read_input_tokens": 2048}

    streamed = await gateway.post(path, body(upstream, model, stream=True))
    assert streamed.headers["x-asahi-cost-usd"] == "deferred"  # a stream is priced when it ends: see the ledger
    if upstream == "openai":
        assert sse_data(streamed.text)[-2]["usage"]["prompt_tokens_details"]["cached_tokens"] == reply.cached_tokens
    else:
        final_usage = sse_events(streamed.text)[-2][1]["usage"]
        assert final_usage["cache_read_input_tokens"] == reply.cached_tokens

    rows = await gateway.ledger()
    assert len(rows) == 2
    for row in rows:
        assert (row["input_tokens"], row["cached_input_tokens"], row["output_tokens"]) == (
            reply.input_tokens, reply.cached_tokens, reply.output_tokens)
        assert row["cost_usd"] == pytest.approx(cost) and cost < uncached
        assert row["baseline_cost_usd"] == pytest.approx(cost)  # the caller would have had that caching too
        assert row["saved_usd"] == 0 and row["prompt_cache_saved_usd"] == 0
        assert row["saving_cause"] is None and row["status"] == 200
