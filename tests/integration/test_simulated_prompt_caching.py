"""Tier 3 offline: the simulator bills provider prompt caching as the real providers do, and the ledger shows it.

On the defaults (no provider key, the built-in simulator), a long system prompt sent twice by one org is read
from the simulated cache the second time: automatically for a model standing in for an OpenAI one (with the
`prompt_cache_key` tier 3 sets), and at the breakpoint tier 3 places for one standing in for an Anthropic model,
whose first call pays the cache-write price. The saving is priced from the catalog here, independently of the
pricing module, and must be what the headers and the ledger row say.
"""

from __future__ import annotations

from typing import Any

import pytest

from asahi.routing.catalog import ModelInfo
from tests.conftest import Running
from tests.integration.conftest import ledger_rows, sse_data, sse_events

SYSTEM = "You are the support agent of Example Corp. Follow the returns policy to the letter. " * 60  # ~1,300 tokens
GPT, CLAUDE = "asahi-sim-gpt-4o", "asahi-sim-claude-sonnet-4-5"


def catalog(running: Running, name: str) -> ModelInfo:
    model: ModelInfo | None = running.app.state.components.router.catalog.get(name)
    assert model is not None
    return model


def usd(model: ModelInfo, *, fresh: int, cached: int = 0, written: int = 0, output: int) -> float:
    assert model.input_price is not None and model.output_price is not None
    assert model.cached_input_price is not None and model.cache_write_price is not None
    return (fresh * model.input_price + cached * model.cached_input_price + written * model.cache_write_price
            + output * model.output_price) / 1e6


async def post(running: Running, key: str, path: str, body: dict[str, Any]) -> Any:
    response = await running.client.post(path, json=body, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return response


def openai_body(question: str, stream: bool) -> dict[str, Any]:
    body = {"model": GPT, "stream": stream,
            "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]}
    return body | ({"stream_options": {"include_usage": True}} if stream else {})


def openai_usage(response: Any, stream: bool) -> dict[str, Any]:
    if not stream:
        usage: dict[str, Any] = response.json()["usage"]
        return usage
    return next(c["usage"] for c in sse_data(response.text) if isinstance(c, dict) and c.get("usage"))


@pytest.mark.parametrize("stream", [False, True])
async def test_openai_stand_in_reads_a_repeated_prefix_billed_but_not_credited(
    running: Running, stream: bool
) -> None:
    key = (await running.signup())["api_key"]
    first = openai_usage(await post(running, key, "/v1/chat/completions", openai_body("Where is my order?", stream)),
                         stream)
    response = await post(running, key, "/v1/chat/completions", openai_body("Can I return a gift?", stream))
    second = openai_usage(response, stream)
    assert first["prompt_tokens_details"]["cached_tokens"] == 0
    cached = second["prompt_tokens_details"]["cached_tokens"]
    assert cached >= 1024 and cached % 128 == 0 and cached < second["prompt_tokens"]

    # OpenAI caches long prompts by itself: billed at the cache price, and the same in the baseline, since the
    # caller would have had it without Asahi. Nothing of it is credited to tier 3.
    model = catalog(running, GPT)
    prompt, output = second["prompt_tokens"], second["completion_tokens"]
    cost = usd(model, fresh=prompt - cached, cached=cached, output=output)
    row = (await ledger_rows(running))[-1]
    assert row["cached_input_tokens"] == cached and row["saving_cause"] is None
    assert row["cost_usd"] == pytest.approx(cost) and row["baseline_cost_usd"] == pytest.approx(cost)
    assert row["saved_usd"] == 0
    if not stream:
        assert float(response.headers["x-asahi-saved-usd"]) == 0

    # Another org's identical request finds nothing: caches are per org.
    other = (await running.signup())["api_key"]
    elsewhere = await post(running, other, "/v1/chat/completions", openai_body("Can I return a gift?", False))
    assert elsewhere.json()["usage"]["prompt_tokens_details"]["cached_tokens"] == 0


def anthropic_body(question: str, stream: bool) -> dict[str, Any]:
    return {"model": CLAUDE, "max_tokens": 200, "stream": stream, "system": SYSTEM,
            "messages": [{"role": "user", "content": question}]}


def anthropic_usage(response: Any, stream: bool) -> dict[str, Any]:
    if not stream:
        usage: dict[str, Any] = response.json()["usage"]
        return usage
    events = sse_events(response.text)
    started = next(data["message"]["usage"] for name, data in events if name == "message_start")
    return started | next(data["usage"] for name, data in events if name == "message_delta")


@pytest.mark.parametrize("stream", [False, True])
async def test_anthropic_stand_in_writes_at_the_tier3_breakpoint_then_reads_it(
    running: Running, stream: bool
) -> None:
    key = (await running.signup())["api_key"]
    first = anthropic_usage(await post(running, key, "/v1/messages", anthropic_body("Where is my order?", stream)),
                            stream)
    second = anthropic_usage(await post(running, key, "/v1/messages", anthropic_body("Can I return a gift?", stream)),
                             stream)
    written = first["cache_creation_input_tokens"]
    assert written > 1024 and first["cache_read_input_tokens"] == 0
    assert second["cache_read_input_tokens"] == written and second["cache_creation_input_tokens"] == 0

    model = catalog(running, CLAUDE)
    rows = (await ledger_rows(running))[-2:]
    # The write costs more than an uncached call, and the ledger says so: a negative tier 3 saving.
    write_cost = usd(model, fresh=first["input_tokens"], written=written, output=first["output_tokens"])
    uncached = usd(model, fresh=first["input_tokens"] + written, output=first["output_tokens"])
    assert rows[0]["cost_usd"] == pytest.approx(write_cost)
    assert uncached < write_cost
    assert rows[0]["saved_usd"] == pytest.approx(rows[0]["prompt_cache_saved_usd"]) == pytest.approx(uncached - write_cost)
    read = second["cache_read_input_tokens"]
    cost = usd(model, fresh=second["input_tokens"], cached=read, output=second["output_tokens"])
    baseline = usd(model, fresh=second["input_tokens"] + read, output=second["output_tokens"])
    assert rows[1]["cached_input_tokens"] == read and rows[1]["saving_cause"] == "tier3"
    assert rows[1]["saved_usd"] == pytest.approx(rows[1]["prompt_cache_saved_usd"]) == pytest.approx(baseline - cost)
