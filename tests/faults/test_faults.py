"""Faults an operator meets, tried on real processes: the database stopped under load, the gateway killed with
SIGKILL, Redis started late, killed and frozen. Each scenario starts its own servers on spare ports and harms only
those. The invariants: no answered request loses its ledger row, no 5xx for a tenant whose key is known, `/health`
tells the truth, and a repaired backend is used again within seconds.
"""

from __future__ import annotations

from pathlib import Path

from tests.faults.scenarios import postgres_outage, redis_faults, sigkill


async def test_postgres_stopped_for_15_seconds_under_load(tmp_path: Path) -> None:
    result = await postgres_outage(tmp_path)
    during = result.notes["health_during"]
    assert during["status"] == "degraded" and during["backends"]["database"]["status"] == "down"
    assert during["backends"]["ledger"]["spooled_bytes"] > 0
    assert result.server_errors == 0
    assert result.answered > 100
    assert result.rows_lost == 0


async def test_sigkill_under_load_loses_no_answered_row(tmp_path: Path) -> None:
    result = await sigkill(tmp_path)
    assert result.answered > 50
    assert result.rows_lost == 0


async def test_redis_started_late_killed_and_frozen(tmp_path: Path) -> None:
    late, killed, frozen = await redis_faults(tmp_path)
    assert late.notes["cache_backend_before"] == "memory"
    assert late.recovery_seconds is not None and late.recovery_seconds < 5
    assert killed.notes["health_during"]["backends"]["redis"]["status"] == "down"
    assert killed.notes["health_during"]["cache_backend"] == "memory"
    assert killed.recovery_seconds is not None and killed.recovery_seconds < 5
    assert killed.server_errors == 0 and killed.answered > 0
    assert frozen.recovery_seconds is not None and frozen.recovery_seconds < 5
    assert frozen.server_errors == 0 and frozen.answered > 0
    # While Redis is frozen only the requests that find it hung pay the short command timeout; the rest skip it.
    assert frozen.notes["median_ms"] < 100
