"""What one non-streaming completion costs the gateway's process, by the way it is sent upstream.

    .venv/bin/python bench/sdk_overhead.py [--calls N] [--conns C]

A cache miss spends most of its CPU sending the request upstream. This measures that step alone, against the
benchmark's fake upstream (in its own process, on the other CPU), for the same body:

- `chat.completions.create`: the SDK's documented call, with its parameter transform and response models;
- the SDK's client request path (`client.post`) with plain JSON: how Asahi's adapter called upstream before;
- `OpenAIProvider.complete`: Asahi's adapter, its own pooled aiohttp client speaking the wire format, request
  translation and answer parsing included;
- aiohttp alone: a bare session, the floor for any Python client here.

Printed: requests/s and CPU µs per call of this process (pinned to one CPU), after a warm-up, twice each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx2
import orjson
import uvloop
from openai import AsyncOpenAI, DefaultAioHttpClient

from asahi.domain import ChatRequest, Message, TextPart
from asahi.providers.openai.adapter import OpenAIProvider
from gateway_bench import OUT, pin, start_upstream

MODEL = "gpt-4o-mini"
PROMPT = "Say hello to the benchmark, please."
Call = Callable[[], Awaitable[object]]


async def measure(call: Call, calls: int, conns: int) -> tuple[float, float]:
    async def worker(count: int) -> None:
        for _ in range(count):
            await call()

    await asyncio.gather(*(worker(20) for _ in range(conns)))  # warm-up: pools, lazy imports
    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(calls // conns) for _ in range(conns)))
    done = calls // conns * conns
    return done / (time.perf_counter() - started), (time.process_time() - cpu) / done * 1e6


async def run(base_url: str, calls: int, conns: int) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": PROMPT}]}
    headers = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}
    url = base_url + "/chat/completions"
    sdk = AsyncOpenAI(api_key="sk-bench", base_url=base_url, max_retries=0, http_client=DefaultAioHttpClient())
    provider = OpenAIProvider("sk-bench", base_url=base_url)
    request = ChatRequest(model=MODEL, messages=[Message("user", [TextPart(PROMPT)])])
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def create() -> object:
        return await sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": PROMPT}])

    async def adapter() -> object:
        return await provider.complete(request, MODEL)

    async def sdk_client_post() -> object:
        response = await sdk.post("/chat/completions", body=body, cast_to=httpx2.Response)
        return orjson.loads(await response.aread())

    async def bare_aiohttp() -> object:
        async with session.post(url, data=orjson.dumps(body), headers=headers) as response:
            return orjson.loads(await response.read())

    ways: list[tuple[str, Call]] = [
        ("SDK `chat.completions.create`", create),
        ("SDK `client.post`, plain JSON (the adapter before)", sdk_client_post),
        ("Asahi's adapter (`OpenAIProvider.complete`)", adapter),
        ("aiohttp alone", bare_aiohttp),
    ]
    print(f"| way ({calls} calls, {conns} concurrent) | req/s | CPU µs per call |")
    print("|---|---|---|")
    try:
        for name, call in ways:
            runs = [await measure(call, calls, conns) for _ in range(2)]
            print(f"| {name} | {' / '.join(f'{r:,.0f}' for r, _ in runs)} "
                  f"| {' / '.join(f'{c:,.0f}' for _, c in runs)} |")
    finally:
        await session.close()
        await provider.aclose()
        await sdk.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=6000)
    parser.add_argument("--conns", type=int, default=32)
    args = parser.parse_args()
    allowed = sorted(os.sched_getaffinity(0))
    OUT.mkdir(exist_ok=True)
    upstream = start_upstream(0)
    try:
        if len(allowed) > 1:
            pin(upstream.pid, set(allowed[1:]))
            os.sched_setaffinity(0, {allowed[0]})
        uvloop.run(run(upstream.url + "/v1", args.calls, args.conns))
    finally:
        upstream.stop()


if __name__ == "__main__":
    main()
