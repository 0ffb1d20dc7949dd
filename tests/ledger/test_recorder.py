from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from asahi.ledger.recorder import LedgerWriter
from asahi.ledger.rows import UsageRow
from asahi.observability.metrics import Metrics
from asahi.store import db
from asahi.store.migrate import migrate
from asahi.store.tables import usage_records
from tests.conftest import SettingsFactory


def row(i: int) -> UsageRow:
    return UsageRow(
        request_id=f"req_{i}", org_id="o", key_id="k", surface="openai", model_requested="m", model_used="m",
        provider="simulator", input_tokens=1, output_tokens=2, cached_input_tokens=0, cache_write_tokens=0,
        reasoning_tokens=0, cost_usd=0.1, baseline_cost_usd=0.2, saved_usd=0.1, prompt_cache_saved_usd=0.0,
        cost_complete=True, saving_cause="tier1", cache_tier=1, cache="t1", routing_reason="answered from cache",
        alternatives=[["m", 0.2, None]], similarity=None, latency_ms=1.0, overhead_ms=0.1, status=200,
        error_code=None, created_at=datetime.now(UTC),
    )


async def test_rows_queued_before_a_clean_stop_are_all_written(make_settings: SettingsFactory) -> None:
    engine = db.create_engine(db.database_url(make_settings()))
    await migrate(engine)
    writer = LedgerWriter(engine, Metrics(), batch_size=100)
    await writer.start()
    for i in range(1234):
        writer.record(row(i))
    await writer.aclose()
    async with engine.connect() as connection:
        count = (await connection.execute(select(func.count()).select_from(usage_records))).scalar_one()
    await engine.dispose()
    assert count == 1234


async def test_a_full_queue_drops_and_counts_instead_of_blocking(make_settings: SettingsFactory) -> None:
    engine = db.create_engine(db.database_url(make_settings()))
    metrics = Metrics()
    writer = LedgerWriter(engine, metrics, max_queue=3)
    for i in range(5):
        writer.record(row(i))
    assert metrics.ledger_dropped._value.get() == 2
    await engine.dispose()


async def test_one_unwritable_row_loses_only_itself(make_settings: SettingsFactory) -> None:
    engine = db.create_engine(db.database_url(make_settings()))
    await migrate(engine)
    writer = LedgerWriter(engine, Metrics(), interval=0.01)
    await writer.start()
    long_name = row(1)
    long_name.model_requested = "m" * 500  # clipped, still written
    writer.record(row(0))
    await writer.flush()
    for candidate in (long_name, row(0), row(2)):  # row(0) again: a duplicate request id the database refuses
        writer.record(candidate)
    await writer.aclose()
    async with engine.connect() as connection:
        ids = sorted(r[0] for r in await connection.execute(select(usage_records.c.request_id)))
    await engine.dispose()
    assert ids == ["req_0", "req_1", "req_2"]
