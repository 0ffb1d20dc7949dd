from __future__ import annotations

from typing import Any

import pytest

from asahi import components
from asahi.ledger.recorder import LedgerWriter
from asahi.providers.simulator import SimulatorProvider
from tests.conftest import SettingsFactory


async def test_build_then_close_everything(make_settings: SettingsFactory) -> None:
    built = await components.build(make_settings())
    assert "simulator" in built.providers and built.tier2 is not None
    assert built.cache_backend in ("memory", "redis")
    await built.aclose()
    assert built.ledger._task is not None and built.ledger._task.done()


async def test_a_failure_half_way_closes_what_was_started(
    make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[str] = []

    async def ledger_closed(self: LedgerWriter) -> None:
        closed.append("ledger")

    async def provider_closed(self: SimulatorProvider) -> None:
        closed.append("provider")

    async def broken_tier2(*_: Any) -> None:
        raise RuntimeError("the vector index refused")

    monkeypatch.setattr(LedgerWriter, "aclose", ledger_closed)
    monkeypatch.setattr(SimulatorProvider, "aclose", provider_closed)
    monkeypatch.setattr(components, "_tier2", broken_tier2)
    with pytest.raises(RuntimeError, match="refused"):
        await components.build(make_settings())
    assert closed == ["ledger", "provider"]  # the reverse of the order they were started in
