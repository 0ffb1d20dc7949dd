"""The sliding-window rate limit: never twice the limit across a window boundary, the same in Redis as in
memory, and each instance's share of the limit while Redis is down."""

from __future__ import annotations

import asyncio
import time

import pytest

from asahi.governance import ratelimit
from asahi.governance.ratelimit import RateLimiter
from asahi.redis_client import RedisLink


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [16_667 * 60 + 59.9]  # the last tenth of a second of a 60 s window
    monkeypatch.setattr(time, "time", lambda: now[0])  # the limiter reads the wall clock
    return now


async def _allowed(limiter: RateLimiter, count: int, limit: float = 10) -> int:
    return sum([await limiter.hit("key:k:rpm", limit, 60) is None for _ in range(count)])


async def _at_the_boundary(limiter: RateLimiter, clock: list[float]) -> None:
    assert await _allowed(limiter, 10) == 10
    clock[0] += 0.2  # the next window has begun: the full previous one still counts
    assert await _allowed(limiter, 10) == 0
    retry = await limiter.hit("key:k:rpm", 10, 60)
    assert retry is not None and 5.5 < retry < 6.5  # one request fits once a tenth of the old window has aged
    clock[0] += 30  # halfway: the previous window weighs half
    assert await _allowed(limiter, 10) == 5


async def test_never_twice_the_limit_across_a_window_boundary_in_memory(clock: list[float]) -> None:
    await _at_the_boundary(RateLimiter(), clock)


async def test_the_same_window_in_redis(clock: list[float], redis_url: str) -> None:
    link = RedisLink(redis_url)
    await link.start()
    try:
        await _at_the_boundary(RateLimiter(link), clock)
    finally:
        await link.aclose()


async def test_with_redis_down_each_instance_takes_its_share(redis_url: str, monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.setattr(ratelimit, "HEARTBEAT_SECONDS", 0.05)
    links = [RedisLink(redis_url), RedisLink(redis_url)]
    limiters = [RateLimiter(link) for link in links]
    try:
        for link, limiter in zip(links, limiters, strict=True):
            await link.start()
            await limiter.start()
        for _ in range(100):
            if all(limiter.instances == 2 for limiter in limiters):
                break
            await asyncio.sleep(0.02)
        assert [limiter.instances for limiter in limiters] == [2, 2]
        links[0].failed(ConnectionError("Redis went away"))  # this instance alone loses Redis
        assert await _allowed(limiters[0], 10) == 5
        assert await _allowed(limiters[1], 10) == 10  # the other still counts fleet-wide in Redis
    finally:
        for link, limiter in zip(links, limiters, strict=True):
            await limiter.aclose()
            await link.aclose()
