"""Which HTTP transport should the SDK adapters use? A small loopback benchmark, run on demand.

    python -m tests.providers.bench_transport [requests] [concurrency]

The fake OpenAI server runs in its own process so it does not share the client's interpreter lock; each
transport then sends the same number of non-streaming completions at a fixed concurrency, after a warm-up.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import statistics
import sys
import time
from multiprocessing.connection import Connection

from asahi.domain import ChatRequest, Message, TextPart
from asahi.providers.openai.adapter import OpenAIProvider
from tests.fakes.openai_server import FakeOpenAI


def _serve(conn: Connection) -> None:
    with FakeOpenAI() as fake:
        conn.send(fake.base_url)
        conn.recv()  # until the benchmark is done


async def _run(base_url: str, aiohttp: bool, total: int, concurrency: int) -> tuple[float, float]:
    provider = OpenAIProvider("test-key", base_url=base_url, aiohttp=aiohttp)
    request = ChatRequest(model="gpt-4o-mini", messages=[Message("user", [TextPart("Say hello.")])])
    latencies: list[float] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            started = time.perf_counter()
            await provider.complete(request, "gpt-4o-mini")
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(worker(10) for _ in range(concurrency)))  # warm-up: connections, imports
    latencies.clear()
    started = time.perf_counter()
    await asyncio.gather(*(worker(total // concurrency) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await provider.aclose()
    return len(latencies) / elapsed, statistics.median(latencies) * 1000


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(child,), daemon=True)
    server.start()
    base_url = parent.recv()
    try:
        for aiohttp in (False, True, False, True):
            rps, p50 = asyncio.run(_run(base_url, aiohttp, total, concurrency))
            name = "aiohttp" if aiohttp else "httpx"
            print(f"{name:8} {rps:8.0f} req/s  p50 {p50:6.2f} ms  ({total} requests, concurrency {concurrency})")
    finally:
        parent.send("stop")
        server.join(timeout=10)


if __name__ == "__main__":
    main()
