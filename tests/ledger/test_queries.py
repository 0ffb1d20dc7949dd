from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.ledger import feedback, queries
from asahi.ledger.queries import RequestFilter, Window
from asahi.ledger.rows import UsageRow
from asahi.store import db
from asahi.store.migrate import migrate
from asahi.store.tables import usage_records
from tests.conftest import SettingsFactory

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def row(i: int, **changes: Any) -> UsageRow:
    base = UsageRow(
        request_id=f"req_{i}", org_id="org", key_id="k1", surface="openai", model_requested="asahi/auto",
        model_used="small", provider="simulator", input_tokens=10, output_tokens=20, cached_input_tokens=0,
        cache_write_tokens=0, reasoning_tokens=0, cost_usd=1.0, baseline_cost_usd=1.0, saved_usd=0.0,
        prompt_cache_saved_usd=0.0, cost_complete=True, saving_cause=None, cache_tier=0, cache="miss",
        routing_reason="r", alternatives=[["small", 1.0, 0.9], ["big", 4.0, 1.0]], similarity=None,
        latency_ms=float(i), overhead_ms=float(i) / 10, status=200, error_code=None, created_at=T0,
    )
    for name, value in changes.items():
        setattr(base, name, value)
    return base


@pytest.fixture
async def engine(make_settings: SettingsFactory) -> AsyncIterator[AsyncEngine]:
    engine = db.create_engine(db.database_url(make_settings()))
    await migrate(engine)
    yield engine
    await engine.dispose()


async def insert(engine: AsyncEngine, *rows: UsageRow) -> None:
    async with engine.begin() as connection:
        await connection.execute(usage_records.insert(), [asdict(r) for r in rows])


def window(days: int = 30, org: str = "org") -> Window:
    return Window(org, T0 - timedelta(days=days), T0 + timedelta(days=1))


async def test_savings_by_cause_add_up_to_the_total_with_tier3_split_out(engine: AsyncEngine) -> None:
    await insert(
        engine,
        row(1, cache="t1", saving_cause="tier1", cost_usd=0.0, baseline_cost_usd=2.0, saved_usd=2.0),
        row(2, cache="t2", saving_cause="tier2", cost_usd=0.0, baseline_cost_usd=3.0, saved_usd=3.0, similarity=0.97),
        # routed to a cheaper model that also read a cached prefix: 5 saved, 1 of it by the prompt cache
        row(3, cache="t3", saving_cause="routing", cost_usd=1.0, baseline_cost_usd=6.0, saved_usd=5.0,
            prompt_cache_saved_usd=1.0),
        row(4, cache="t3", saving_cause="tier3", cost_usd=1.0, baseline_cost_usd=1.5, saved_usd=0.5,
            prompt_cache_saved_usd=0.5),
        row(5, status=502, error_code="upstream_error", cost_usd=None, baseline_cost_usd=None, saved_usd=None,
            prompt_cache_saved_usd=None, cost_complete=False),
        row(6, org_id="other", cache="t1", saving_cause="tier1", saved_usd=100.0),
    )
    async with engine.connect() as connection:
        summary = await queries.usage_summary(connection, window())
    assert summary["savings"] == pytest.approx({"tier1": 2.0, "tier2": 3.0, "tier3": 1.5, "routing": 4.0})
    assert sum(summary["savings"].values()) == pytest.approx(summary["total"]["saved_usd"]) == 10.5
    assert summary["total"]["requests"] == 5 and summary["total"]["errors"] == 1
    assert summary["total"]["rows_with_unknown_price"] == 1
    assert summary["total"]["saved_share"] == pytest.approx(10.5 / 12.5)
    assert summary["cache"] == {"miss": 0, "t1": 1, "t2": 1, "t3": 2, "bypass": 0}
    assert summary["hit_rates"]["cache"] == pytest.approx(0.5)
    # nearest rank over the four answered rows (overhead 0.1 .. 0.4): p50 is the second
    assert summary["overhead_ms"] == {"p50": 0.2, "p95": 0.4}


async def test_an_empty_window_has_zeros_and_no_rates(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        summary = await queries.usage_summary(connection, window())
        series = await queries.usage_series(connection, window(days=3), "day", ZoneInfo("UTC"))
    assert summary["total"]["requests"] == 0 and summary["total"]["saved_share"] is None
    assert summary["hit_rates"]["cache"] is None and summary["overhead_ms"]["p50"] is None
    assert len(series) == 5 and all(point["requests"] == 0 for point in series)  # 7 to 11 March


@pytest.mark.parametrize(("zone", "day_of_late_row"), [("UTC", "2026-03-10"), ("Asia/Tokyo", "2026-03-11"),
                                                        ("Asia/Kolkata", "2026-03-11"),
                                                        ("America/New_York", "2026-03-10")])
async def test_days_are_the_callers_days(engine: AsyncEngine, zone: str, day_of_late_row: str) -> None:
    late = datetime(2026, 3, 10, 18, 45, tzinfo=UTC)  # 03:45 next day in Tokyo, 00:15 next day in Kolkata
    await insert(engine, row(1, created_at=late, saved_usd=2.0, saving_cause="tier1", cache="t1"),
                 row(2, created_at=late - timedelta(days=2)))
    async with engine.connect() as connection:
        series = await queries.usage_series(connection, window(days=5), "day", ZoneInfo(zone))
    busy = {point["start"][:10]: point for point in series if point["requests"]}
    assert busy[day_of_late_row]["savings"]["tier1"] == 2.0
    assert busy[day_of_late_row]["cache"]["t1"] == 1
    assert sum(point["requests"] for point in series) == 2
    starts = [datetime.fromisoformat(point["start"]) for point in series]
    assert starts == sorted(starts) and all(s.tzinfo is not None for s in starts)


async def test_hourly_series_has_every_hour(engine: AsyncEngine) -> None:
    await insert(engine, row(1, created_at=T0 + timedelta(minutes=59)), row(2, created_at=T0 + timedelta(hours=1)))
    span = Window("org", T0, T0 + timedelta(hours=3))
    async with engine.connect() as connection:
        series = await queries.usage_series(connection, span, "hour", ZoneInfo("UTC"))
    assert [p["requests"] for p in series] == [1, 1, 0]


async def test_requests_page_newest_first_with_a_stable_cursor(engine: AsyncEngine) -> None:
    # three share one timestamp: the id breaks the tie, so no row repeats or goes missing across pages
    await insert(engine, *(row(i, created_at=T0 + timedelta(seconds=min(i, 2))) for i in range(5)))
    seen: list[str] = []
    cursor = None
    async with engine.connect() as connection:
        while True:
            page, cursor = await queries.list_requests(connection, window(), RequestFilter(), 2, cursor)
            seen += [r["request_id"] for r in page]
            if cursor is None:
                break
    assert seen == ["req_4", "req_3", "req_2", "req_1", "req_0"]


async def test_filters_and_the_detail_fields(engine: AsyncEngine) -> None:
    await insert(
        engine,
        row(1, cache="t1", model_used="big", key_id="k2"),
        row(2, cache="t2", similarity=0.95),
        row(3, status=429, error_code="rate_limited"),
        row(4, org_id="other", cache="t1"),
    )
    await feedback.record(engine, "org", "req_2", False)

    async def ids(**filters: Any) -> list[str]:
        async with engine.connect() as connection:
            page, _ = await queries.list_requests(connection, window(), RequestFilter(**filters), 50)
        return sorted(r["request_id"] for r in page)

    assert await ids() == ["req_1", "req_2", "req_3"]
    assert await ids(cache=("t1", "t2")) == ["req_1", "req_2"]
    assert await ids(model="big") == ["req_1"]
    assert await ids(model="asahi/auto") == ["req_1", "req_2", "req_3"]
    assert await ids(status="error") == ["req_3"]
    assert await ids(status="429") == ["req_3"]
    assert await ids(status="ok", key_id="k1") == ["req_2"]
    async with engine.connect() as connection:
        detail = await queries.request_detail(connection, "org", "req_2")
        hidden = await queries.request_detail(connection, "other", "req_2")
    assert hidden is None
    assert detail is not None
    assert detail["cache_tier"] == "t2" and detail["similarity"] == 0.95 and detail["feedback"] is False
    assert detail["alternatives"][1] == {"model": "big", "estimated_cost_usd": 4.0, "quality_share": 1.0}
    assert detail["tokens"]["input"] == 10 and detail["model_requested"] == "asahi/auto"


async def test_a_bad_cursor_is_a_400_naming_it(engine: AsyncEngine) -> None:
    from asahi.errors import BadRequest

    async with engine.connect() as connection:
        with pytest.raises(BadRequest) as raised:
            await queries.list_requests(connection, window(), RequestFilter(), 5, "not-a-cursor")
    assert raised.value.details == {"param": "cursor"}


async def test_last_use_of_each_key(engine: AsyncEngine) -> None:
    await insert(engine, row(1, key_id="k1"), row(2, key_id="k1", created_at=T0 + timedelta(hours=1)),
                 row(3, key_id="k2", org_id="other"))
    async with engine.connect() as connection:
        last = await queries.keys_last_used(connection, "org")
    assert last == {"k1": T0 + timedelta(hours=1)}


async def test_feedback_measures_the_wrong_hit_rate_latest_verdict_standing(engine: AsyncEngine) -> None:
    for i, correct in enumerate([True, True, False, True]):
        await feedback.record(engine, "org", f"req_{i}", correct)
    await feedback.record(engine, "org", "req_0", False)  # changed its mind
    await feedback.record(engine, "other", "req_9", False)
    span = Window("org", datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1))
    async with engine.connect() as connection:
        measured = await queries.feedback_summary(connection, span)
    assert measured["labelled"] == 4 and measured["wrong"] == 2 and measured["rate"] == 0.5
    assert 0.5 < measured["rate_upper_95"] < 1


def test_wilson_bound_is_honest_with_few_labels() -> None:
    assert queries.wilson_upper(0, 0) is None
    assert queries.wilson_upper(0, 10) == pytest.approx(0.2775, abs=1e-3)  # no wrong hit seen, still up to ~28%
    assert queries.wilson_upper(0, 1000) < 0.005
