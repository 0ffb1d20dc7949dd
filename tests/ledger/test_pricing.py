from __future__ import annotations

import pytest

from asahi.domain import Usage
from asahi.ledger.pricing import UNKNOWN, price
from asahi.routing.catalog import Catalog
from asahi.settings import load_settings

CATALOG = Catalog.from_config(load_settings({}).config)


def test_plain_usage_is_priced_per_million_tokens() -> None:
    model = CATALOG.get("gpt-4o-mini")
    assert price(model, Usage(1_000_000, 1_000_000)).usd == pytest.approx(0.15 + 0.60)


def test_cached_and_written_tokens_are_priced_as_the_provider_bills_them() -> None:
    sonnet = CATALOG.get("claude-sonnet-4-5")
    usage = Usage(input_tokens=1_000_000, output_tokens=0, cached_input_tokens=600_000, cache_write_tokens=300_000)
    assert price(sonnet, usage).usd == pytest.approx(0.1 * 3.0 + 0.6 * 0.3 + 0.3 * 3.75)


def test_unknown_prices_are_incomplete_never_free() -> None:
    assert price(None, Usage(10, 10)) is UNKNOWN
    assert not price(None, Usage(10, 10)).complete


def test_simulator_models_are_priced_like_what_they_stand_in_for() -> None:
    usage = Usage(1234, 567)
    assert price(CATALOG.get("asahi-sim-gpt-4o"), usage) == price(CATALOG.get("gpt-4o"), usage)
