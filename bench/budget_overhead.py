"""Budget enforcement per request with Redis: the hold on the worst case (one script call) and its settlement
(another), for a request under an org budget and a key budget, as the pipeline runs them.

Measured in CPU time of this process (what the gateway spends; Redis's own work runs in its process), with the
wall time beside it (two localhost round trips), one request at a time and 32 at once (concurrent requests' script
calls share round trips). Target: ≤ 100 µs CPU at the median.
Run: `.venv/bin/python bench/budget_overhead.py --redis-url redis://127.0.0.1:6379/9`
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time

from asahi.governance import accounts
from asahi.governance.budgets.alerts import Alerts
from asahi.governance.budgets.service import Budgets, refs
from asahi.governance.budgets.spec import Budget, BudgetRef
from asahi.governance.refusals import RefusalLog
from asahi.redis_client import RedisLink
from asahi.settings import load_settings
from asahi.store import db
from asahi.store.migrate import migrate


async def measure(iterations: int, redis_url: str | None) -> dict[str, float]:
    settings = load_settings({"ASAHI_DATA_DIR": tempfile.mkdtemp(prefix="asahi-bench-")})
    engine = db.create_engine(db.database_url(settings))
    await migrate(engine)
    org, issued = await accounts.create_org_with_key(engine, "bench", "bench@example.com", actor="bench")
    link = RedisLink(redis_url)
    await link.start()
    if link.client is not None:
        assert link.up, f"Redis at {redis_url} is required"
        await link.client.flushdb()
    budgets = Budgets(engine, link, Alerts(engine, None), RefusalLog(engine), hold_seconds=900)
    budget_refs = refs(org.id, [Budget(limit_usd=1e6, window="month")], issued.record.id,
                       [Budget(limit_usd=1e6, window="day")])
    cpu, wall = [], []
    for i in range(iterations + 200):
        started_cpu, started_wall = time.process_time_ns(), time.perf_counter_ns()
        hold = await budgets.reserve(budget_refs, 0.002)
        assert hold is not None
        await budgets.settle(hold, 0.0007)
        if i >= 200:  # the first ones build the counters from the ledger and warm the scripts
            cpu.append((time.process_time_ns() - started_cpu) / 1000)
            wall.append((time.perf_counter_ns() - started_wall) / 1000)
    concurrent = await _concurrent(budgets, budget_refs, iterations, 32)
    if link.client is not None:
        await link.client.flushdb()
    await budgets.aclose()
    await link.aclose()
    await engine.dispose()
    cpu.sort()
    wall.sort()
    return {"cpu_p50": statistics.median(cpu), "cpu_p99": cpu[int(len(cpu) * 0.99)],
            "wall_p50": statistics.median(wall), "wall_p99": wall[int(len(wall) * 0.99)], "cpu_c32": concurrent}


async def _concurrent(budgets: Budgets, budget_refs: list[BudgetRef], requests: int, concurrency: int) -> float:
    """CPU µs per request when `concurrency` requests hold and settle at once (their calls share round trips):
    the median over rounds of `concurrency` requests."""

    async def one() -> None:
        hold = await budgets.reserve(budget_refs, 0.002)
        assert hold is not None
        await budgets.settle(hold, 0.0007)

    rounds = []
    for _ in range(max(1, requests // concurrency)):
        started = time.process_time_ns()
        await asyncio.gather(*[one() for _ in range(concurrency)])
        rounds.append((time.process_time_ns() - started) / 1000 / concurrency)
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--no-redis", action="store_true", help="the database path (embedded SQLite) instead")
    args = parser.parse_args()
    f = asyncio.run(measure(args.iterations, None if args.no_redis else args.redis_url))
    where = "SQLite, no Redis" if args.no_redis else "Redis"
    print(f"budget reserve + settle (2 budgets, {where}): CPU p50 {f['cpu_p50']:.1f} µs, p99 {f['cpu_p99']:.1f} µs; "
          f"wall p50 {f['wall_p50']:.1f} µs, p99 {f['wall_p99']:.1f} µs over {args.iterations} requests one at a "
          f"time; CPU {f['cpu_c32']:.1f} µs per request at 32 concurrent (median of rounds)")


if __name__ == "__main__":
    main()
