from __future__ import annotations

import pytest

from asahi.domain import Usage
from asahi.ledger.bill import answered, cache_hit
from asahi.routing.catalog import Catalog, ModelInfo
from asahi.settings import load_settings

CATALOG = Catalog.from_config(load_settings({}).config)


def model(name: str) -> ModelInfo:
    found = CATALOG.get(name)
    assert found is not None
    return found


def test_a_cache_hit_saves_the_whole_baseline() -> None:
    bill = cache_hit(model("gpt-4o"), Usage(1000, 100, cached_input_tokens=500), "tier1")
    assert bill.cost.usd == 0.0
    assert bill.saved.usd == bill.baseline.usd == pytest.approx((1000 * 2.5 + 100 * 10.0) / 1e6)
    assert bill.cause == "tier1"


def test_the_same_model_without_prompt_cache_saves_nothing() -> None:
    bill = answered(model("gpt-4o"), model("gpt-4o"), Usage(1000, 100))
    assert bill.saved.usd == 0.0 and bill.cause is None


def test_prompt_cache_reads_are_a_tier3_saving_from_reported_tokens() -> None:
    bill = answered(model("gpt-4o"), None, Usage(2048, 10, cached_input_tokens=1024))
    assert bill.saved.usd == pytest.approx(1024 * (2.5 - 1.25) / 1e6)
    assert bill.prompt_cache_saved == bill.saved
    assert bill.cause == "tier3"


def test_a_cache_write_shows_as_a_cost_not_a_saving() -> None:
    bill = answered(model("claude-sonnet-4-5"), None, Usage(4000, 10, cache_write_tokens=4000))
    assert bill.saved.usd == pytest.approx(-4000 * (3.75 - 3.0) / 1e6)
    assert bill.cause == "tier3"


def test_routing_and_prompt_cache_split_the_saving() -> None:
    usage = Usage(4096, 100, cached_input_tokens=2048)
    bill = answered(model("gpt-4o-mini"), model("gpt-4o"), usage)
    uncached_mini = (4096 * 0.15 + 100 * 0.6) / 1e6
    assert bill.baseline.usd == pytest.approx((4096 * 2.5 + 100 * 10.0) / 1e6)
    assert bill.prompt_cache_saved.usd == pytest.approx(2048 * (0.15 - 0.075) / 1e6)
    assert bill.saved.usd == pytest.approx(bill.baseline.usd - uncached_mini + bill.prompt_cache_saved.usd)
    assert bill.cause == "routing"


def test_an_unpriced_model_has_no_saving_figure() -> None:
    unpriced = ModelInfo("x", "ollama", None, None, None, None, 8192, 4096, frozenset(), 1)
    bill = answered(unpriced, model("gpt-4o"), Usage(10, 10))
    assert bill.cost.usd is None and bill.saved.usd is None and not bill.cost.complete
