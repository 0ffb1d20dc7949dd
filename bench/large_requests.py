"""How long other requests wait while the gateway reads 4 MB bodies: /health/live latency under that load.

    .venv/bin/python bench/large_requests.py [--seconds 20] [--senders 2]

Starts `asahi serve` on embedded defaults (plus a simulated model with a 1M-token context), then `--senders`
clients send ~4 MB chat requests back to back (half of them 3,600 messages of ~1 KB, half one 3.9 MB message)
while a prober, a process of its own, asks /health/live every 10 ms. Printed: the probes' latency p50/p99/max,
and the large requests' own latency and status.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.faults.harness import GatewayProcess, signup  # noqa: E402

PROBE = """
import sys, time, httpx
url, seconds = sys.argv[1], float(sys.argv[2])
end = time.monotonic() + seconds
with httpx.Client(base_url=url) as client:
    while time.monotonic() < end:
        started = time.perf_counter()
        client.get("/health/live")
        print(time.perf_counter() - started)
        time.sleep(0.01)
"""


def bodies() -> list[bytes]:
    import orjson

    many = {"model": "asahi-sim-gpt-4.1", "messages": [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"{i} " + "lorem ipsum dolor " * 55}
        for i in range(3600)]}
    one = {"model": "asahi-sim-gpt-4.1", "messages": [{"role": "user", "content": "word " * 780_000}]}
    return [orjson.dumps(many), orjson.dumps(one)]


async def run(url: str, key: str, seconds: float, senders: int) -> None:
    payloads = bodies()
    stop = asyncio.Event()
    probes: list[float] = []
    large: list[tuple[int, float]] = []

    async def prober() -> None:
        # A process of its own: the senders' event loop and interpreter lock must not delay what it measures.
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", PROBE, url, str(seconds), stdout=asyncio.subprocess.PIPE)
        out, _ = await child.communicate()
        probes.extend(float(line) for line in out.split())

    async def sender(i: int) -> None:
        headers = {"Authorization": f"Bearer {key}", "content-type": "application/json", "x-asahi-cache": "no-cache"}
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            n = i
            while not stop.is_set():
                started = time.perf_counter()
                response = await client.post("/v1/chat/completions", content=payloads[n % 2], headers=headers)
                large.append((response.status_code, time.perf_counter() - started))
                n += 1

    tasks = [asyncio.create_task(prober()), *(asyncio.create_task(sender(i)) for i in range(senders))]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)
    ms = sorted(p * 1000 for p in probes)
    p99 = ms[int(len(ms) * 0.99)]
    statuses = sorted({s for s, _ in large})
    print(f"/health/live while {senders} clients send ~4 MB bodies for {seconds:g} s: "
          f"p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms over {len(ms)} probes")
    print(f"large requests: {len(large)} answered, statuses {statuses}, "
          f"median {statistics.median(t for _, t in large) * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--senders", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        # A simulated model with a 1M-token context, so 4 MB prompts are answered, not refused as too long.
        overlay = Path(folder) / "asahi.yaml"
        overlay.write_text("models:\n  asahi-sim-gpt-4.1: {provider: simulator, stands_in_for: gpt-4.1}\n")
        gateway = GatewayProcess({"ASAHI_CONFIG": str(overlay)}, Path(folder) / "data")
        gateway.start()
        try:
            asyncio.run(run(gateway.url, signup(gateway.url), args.seconds, args.senders))
        finally:
            gateway.stop()


if __name__ == "__main__":
    main()
