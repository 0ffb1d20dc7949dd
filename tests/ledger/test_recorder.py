from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.ledger.recorder import LedgerWriter, SpoolSettings
from asahi.ledger.rows import UsageRow
from asahi.observability.metrics import Metrics
from asahi.store import db
from asahi.store.migrate import migrate
from asahi.store.tables import usage_records
from tests.conftest import SettingsFactory


def row(i: int, **fields: object) -> UsageRow:
    values: dict[str, object] = dict(
        request_id=f"req_{i}", org_id="o", key_id="k", surface="openai", model_requested="m", model_used="m",
        provider="simulator", input_tokens=1, output_tokens=2, cached_input_tokens=0, cache_write_tokens=0,
        reasoning_tokens=0, cost_usd=0.1, baseline_cost_usd=0.2, saved_usd=0.1, prompt_cache_saved_usd=0.0,
        cost_complete=True, saving_cause="tier1", cache_tier=1, cache="t1", routing_reason="answered from cache",
        alternatives=[["m", 0.2, None]], similarity=None, latency_ms=1.0, overhead_ms=0.1, status=200,
        error_code=None, created_at=datetime.now(UTC),
    )
    return UsageRow(**{**values, **fields})  # type: ignore[arg-type]


async def engine_for(make_settings: SettingsFactory) -> AsyncEngine:
    engine = db.create_engine(db.database_url(make_settings()))
    await migrate(engine)
    return engine


async def count(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(usage_records))).scalar_one())


def unreachable(make_settings: SettingsFactory, backend: str, tmp_path: Path) -> AsyncEngine:
    """An engine whose database never answers: PostgreSQL on a closed port, SQLite in a missing folder."""
    if backend == "postgres":
        return db.create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    return db.create_engine(f"sqlite+aiosqlite:///{tmp_path}/missing/folder/asahi.db")


async def test_rows_spooled_before_a_clean_stop_are_all_written(make_settings: SettingsFactory, tmp_path: Path) -> None:
    engine = await engine_for(make_settings)
    writer = LedgerWriter(engine, Metrics(), SpoolSettings(tmp_path / "spool", batch_size=100))
    await writer.start()
    for i in range(1234):
        writer.record(row(i))
    await writer.aclose()
    assert await count(engine) == 1234
    await engine.dispose()


async def test_a_database_outage_loses_nothing_and_the_next_start_replays(
    make_settings: SettingsFactory, backend: str, tmp_path: Path
) -> None:
    spool = SpoolSettings(tmp_path / "spool")
    down = unreachable(make_settings, backend, tmp_path)
    writer = LedgerWriter(down, Metrics(), spool)
    await writer.start()
    for i in range(50):
        writer.record(row(i))
    await asyncio.sleep(0.3)
    assert not writer.database_up and writer.state()["status"] == "degraded"
    assert writer.state()["spooled_bytes"] > 0
    await writer.aclose()  # gives up draining after a few seconds; the rows stay spooled
    await down.dispose()
    engine = await engine_for(make_settings)
    again = LedgerWriter(engine, Metrics(), spool)
    await again.start()
    await again.flush()
    assert await count(engine) == 50 and again.state()["spooled_bytes"] == 0
    await again.aclose()
    await engine.dispose()


async def test_a_replayed_row_is_not_counted_twice(make_settings: SettingsFactory, tmp_path: Path) -> None:
    engine = await engine_for(make_settings)
    spool = SpoolSettings(tmp_path / "spool")
    writer = LedgerWriter(engine, Metrics(), spool)
    await writer.start()
    for i in range(10):
        writer.record(row(i))
    await writer.flush()
    slot = writer.spool.slot.path
    await writer.aclose()
    (slot / "checkpoint").unlink()  # as after a crash between the commit and the checkpoint
    again = LedgerWriter(engine, Metrics(), spool)
    await again.start()
    again.record(row(10))
    await again.flush()
    await again.aclose()
    assert await count(engine) == 11
    await engine.dispose()


async def test_a_row_left_by_a_killed_process_is_adopted(make_settings: SettingsFactory, tmp_path: Path) -> None:
    engine = await engine_for(make_settings)
    spool = SpoolSettings(tmp_path / "spool")
    killed = LedgerWriter(unreachable(make_settings, "embedded", tmp_path), Metrics(), spool)
    await killed.start()
    killed.record(row(1))
    running = LedgerWriter(engine, Metrics(), spool)  # starts while the first still holds its slot
    await running.start()
    assert running.spool.slot.path != killed.spool.slot.path
    for task in killed._tasks:
        task.cancel()
    killed.spool.slot.release()  # what the kernel does when a process dies
    replacement = LedgerWriter(engine, Metrics(), spool)
    await replacement.start()
    await replacement.flush()
    assert await count(engine) == 1
    await running.aclose()
    await replacement.aclose()
    await engine.dispose()


async def test_one_unwritable_row_is_set_aside_not_lost_or_blocking(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    engine = await engine_for(make_settings)
    writer = LedgerWriter(engine, Metrics(), SpoolSettings(tmp_path / "spool"))
    await writer.start()
    writer.record(row(0, model_requested="m" * 500))  # clipped, still written
    writer.record(row(1, input_tokens=None))  # NOT NULL: the database refuses this one
    writer.record(row(2))
    await writer.flush()
    await writer.aclose()
    assert await count(engine) == 2 and writer.rejected == 1
    assert b"req_1" in (tmp_path / "spool" / "rejected.rows").read_bytes()
    await engine.dispose()


async def test_a_full_spool_refuses_new_work(make_settings: SettingsFactory, backend: str, tmp_path: Path) -> None:
    down = unreachable(make_settings, backend, tmp_path)
    writer = LedgerWriter(down, Metrics(), SpoolSettings(tmp_path / "spool", max_bytes=2000))
    await writer.start()
    while writer.accepting:
        writer.record(row(writer.spool.pending_bytes))
    assert writer.spool.full
    await writer.aclose()
    await down.dispose()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_rows_rotate_across_segments_in_order(make_settings: SettingsFactory, tmp_path: Path) -> None:
    engine = await engine_for(make_settings)
    writer = LedgerWriter(engine, Metrics(), SpoolSettings(tmp_path / "spool", segment_bytes=4096, batch_size=7))
    await writer.start()
    for i in range(300):
        writer.record(row(i))
    await writer.flush()
    assert len(writer.spool.slot.segments()) <= 2  # drained segments are deleted
    await writer.aclose()
    assert await count(engine) == 300
    await engine.dispose()
