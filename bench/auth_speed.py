"""Auth work per authenticated request: key digest + cache look-up + checks, on the cached path.

Target: ≤ 50 µs at the median. Run: `.venv/bin/python bench/auth_speed.py`
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time

from asahi.governance import accounts
from asahi.governance.auth import Authenticator, presented_key
from asahi.settings import load_settings
from asahi.store import db
from asahi.store.migrate import migrate


async def measure(iterations: int) -> dict[str, float]:
    settings = load_settings({"ASAHI_DATA_DIR": tempfile.mkdtemp(prefix="asahi-bench-")})
    engine = db.create_engine(db.database_url(settings))
    await migrate(engine)
    _, issued = await accounts.create_org_with_key(engine, "bench", "bench@example.com", actor="bench")
    auth = Authenticator(engine, ttl=3600)
    headers = {"authorization": f"Bearer {issued.plaintext}"}
    await auth.authenticate(presented_key(headers))  # warm the cache
    samples = []
    for _ in range(iterations):
        started = time.perf_counter_ns()
        await auth.authenticate(presented_key(headers))
        samples.append((time.perf_counter_ns() - started) / 1000)
    await engine.dispose()
    samples.sort()
    return {
        "p50_us": statistics.median(samples),
        "p99_us": samples[int(len(samples) * 0.99)],
        "iterations": float(iterations),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=100_000)
    figures = asyncio.run(measure(parser.parse_args().iterations))
    print(f"auth (cached key) p50 {figures['p50_us']:.2f} µs, p99 {figures['p99_us']:.2f} µs "
          f"over {int(figures['iterations'])} requests")


if __name__ == "__main__":
    main()
