"""The Redis link against a real redis-server on a spare port, killed and started again."""

from __future__ import annotations

import asyncio

from asahi.redis_client import RedisLink
from tests.faults.harness import RedisServer


async def _until_up(link: RedisLink) -> None:
    for _ in range(250):
        if link.up:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the link never came back up")


async def test_back_up_after_a_restart_without_flapping_on_old_connections() -> None:
    redis = RedisServer()
    link = RedisLink(redis.url, probe_interval=0.1)
    try:
        await link.start()
        assert link.client is not None
        # Concurrent commands leave several connections in the pool, all to the server about to die.
        await asyncio.gather(*(link.client.blpop(["asahi-test-nothing"], timeout=0.05) for _ in range(8)))
        redis.kill()
        redis.start()
        link.failed(ConnectionError("lost"))
        await _until_up(link)
        answers = await asyncio.gather(*(link.client.ping() for _ in range(8)), return_exceptions=True)
        assert answers == [True] * 8
    finally:
        await link.aclose()
        redis.close()
