"""The fault scenarios, each run end to end on real processes and summed up as a `Result`.

`tests/faults/test_faults.py` asserts on them; `bench/fault_report.py` runs them and writes docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from tests.faults.harness import GatewayProcess, Load, Postgres, RedisServer, health, run_load, signup, wait_for

ENCRYPTION_KEY = "cd" * 32


@dataclass
class Result:
    fault: str
    sent: int = 0
    answered: int = 0  # 200s
    server_errors: int = 0  # 5xx
    rows_lost: int = 0  # answered requests without a ledger row
    recovery_seconds: float | None = None  # back on the repaired backend after it returned
    notes: dict[str, Any] = field(default_factory=dict)

    def count(self, load: Load, stored: set[str] | None = None) -> None:
        self.sent = len(load.answers)
        self.answered = len(load.ok_ids())
        self.server_errors = load.server_errors()
        if stored is not None:
            self.rows_lost = len(load.ok_ids() - stored)


async def _postgres_ids(url: str) -> set[str]:
    connection = await asyncpg.connect(url)
    try:
        return {r["request_id"] for r in await connection.fetch("SELECT request_id FROM usage_records")}
    finally:
        await connection.close()


def _sqlite_ids(data_dir: Path) -> set[str]:
    with sqlite3.connect(data_dir / "asahi.db") as connection:
        return {row[0] for row in connection.execute("SELECT request_id FROM usage_records")}


def _drained(url: str) -> bool:
    return bool(health(url).get("backends", {}).get("ledger", {}).get("spooled_bytes") == 0)


def _cache_backend(url: str) -> str | None:
    value = health(url).get("cache_backend")
    return None if value is None else str(value)


async def postgres_outage(folder: Path, outage_seconds: float = 15.0, clients: int = 6) -> Result:
    """PostgreSQL stopped (immediate shutdown) for `outage_seconds` under load, then started again."""
    result = Result(f"PostgreSQL stopped {outage_seconds:g} s under load")
    postgres = Postgres()
    gateway = GatewayProcess({"DATABASE_URL": postgres.url, "ASAHI_ENCRYPTION_KEY": ENCRYPTION_KEY},
                             folder / "data")
    try:
        gateway.start()
        key = signup(gateway.url)
        stop, load = asyncio.Event(), Load()
        task = asyncio.create_task(run_load(gateway.url, key, stop, load, clients=clients))
        await asyncio.sleep(2)
        await asyncio.to_thread(postgres.stop)
        await asyncio.sleep(outage_seconds / 2)
        result.notes["health_during"] = await asyncio.to_thread(health, gateway.url)
        await asyncio.sleep(outage_seconds / 2)
        await asyncio.to_thread(postgres.start)
        await asyncio.sleep(3)
        stop.set()
        await task
        result.recovery_seconds = await asyncio.to_thread(wait_for, lambda: _drained(gateway.url), 60)
        result.count(load, await _postgres_ids(postgres.url))
    finally:
        gateway.stop()
        postgres.close()
    return result


async def sigkill(folder: Path, clients: int = 6) -> Result:
    """The gateway killed with SIGKILL under load, then started again on the same data directory."""
    result = Result("gateway killed (SIGKILL) under load")
    data = folder / "data"
    gateway = GatewayProcess({}, data)
    try:
        gateway.start()
        key = signup(gateway.url)
        stop, load = asyncio.Event(), Load()
        task = asyncio.create_task(run_load(gateway.url, key, stop, load, clients=clients))
        await asyncio.sleep(3)
        gateway.kill()
        stop.set()
        await task
        gateway.start()
        result.recovery_seconds = await asyncio.to_thread(wait_for, lambda: _drained(gateway.url), 60)
        result.count(load, _sqlite_ids(data))
    finally:
        gateway.stop()
    return result


async def redis_faults(folder: Path, clients: int = 4, frozen_seconds: float = 4.0) -> list[Result]:
    """Redis absent at start then started, killed under load then restarted, frozen (SIGSTOP) under load."""
    late, killed, frozen = (Result("Redis started after the gateway"), Result("Redis killed under load"),
                            Result(f"Redis frozen (SIGSTOP) {frozen_seconds:g} s under load"))
    redis = RedisServer(started=False)
    gateway = GatewayProcess({"REDIS_URL": redis.url}, folder / "data")
    try:
        gateway.start()
        late.notes["cache_backend_before"] = _cache_backend(gateway.url)
        redis.start()
        late.recovery_seconds = await asyncio.to_thread(wait_for, lambda: _cache_backend(gateway.url) == "redis", 5)
        key = signup(gateway.url)
        stop, load = asyncio.Event(), Load()
        task = asyncio.create_task(run_load(gateway.url, key, stop, load, clients=clients))
        await asyncio.sleep(1)

        before_kill = len(load.answers)
        redis.kill()
        await asyncio.to_thread(wait_for, lambda: _cache_backend(gateway.url) == "memory", 5)
        killed.notes["health_during"] = await asyncio.to_thread(health, gateway.url)
        await asyncio.sleep(1)
        redis.start()
        killed.recovery_seconds = await asyncio.to_thread(wait_for, lambda: _cache_backend(gateway.url) == "redis", 5)
        killed.count(Load(load.answers[before_kill:]))

        await asyncio.sleep(0.5)
        before_freeze = len(load.answers)
        redis.freeze()
        await asyncio.sleep(frozen_seconds)
        during = Load(load.answers[before_freeze:])
        redis.thaw()
        frozen.recovery_seconds = await asyncio.to_thread(wait_for, lambda: _cache_backend(gateway.url) == "redis", 5)
        stop.set()
        await task
        frozen.count(during)
        latencies = [seconds for status, _, seconds in during.answers if status == 200]
        frozen.notes["median_ms"] = round(statistics.median(latencies) * 1000, 1) if latencies else None
        frozen.notes["max_ms"] = round(max(latencies) * 1000, 1) if latencies else None
    finally:
        gateway.stop()
        redis.close()
    return [late, killed, frozen]
