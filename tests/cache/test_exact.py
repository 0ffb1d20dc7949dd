from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from asahi.cache.exact import HITS_KEY, MISSES_KEY, CacheUnavailable, MemoryExactCache, RedisExactCache
from asahi.cache.keys import request_fingerprint, tier1_key
from asahi.domain import ChatRequest, Message, TextPart
from tests.conftest import Running, SettingsFactory, start


async def test_memory_cache_is_an_lru_bounded_in_bytes() -> None:
    cache = MemoryExactCache(max_bytes=100)
    await cache.put("a", b"x" * 40, 60)
    await cache.put("b", b"y" * 40, 60)
    assert await cache.get("a") == b"x" * 40  # a is now most recently used
    await cache.put("c", b"z" * 40, 60)  # evicts b
    assert await cache.get("b") is None
    assert await cache.get("a") is not None and await cache.get("c") is not None
    assert cache.size_bytes <= 100
    await cache.put("huge", b"h" * 101, 60)
    assert await cache.get("huge") is None


async def test_memory_cache_honours_ttl() -> None:
    cache = MemoryExactCache(max_bytes=1000)
    await cache.put("k", b"v", 0)
    await asyncio.sleep(0.01)
    assert await cache.get("k") is None
    assert len(cache) == 0


async def test_redis_cache_uses_the_guides_keys_and_counters(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    cache = RedisExactCache(client)
    request = ChatRequest(model="m", messages=[Message("user", [TextPart("hi")])])
    key = tier1_key("org1", request_fingerprint(request, "m"))
    assert key.startswith("asahi:t1:org1:") and len(key.rsplit(":", 1)[1]) == 32
    assert await cache.get(key) is None
    await cache.put(key, b"answer", 60)
    assert await cache.get(key) == b"answer"
    assert int(await client.get(HITS_KEY)) == 1 and int(await client.get(MISSES_KEY)) == 1
    assert 0 < await client.ttl(key) <= 60
    await client.aclose()


async def test_redis_reads_of_concurrent_requests_share_round_trips(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    cache = RedisExactCache(client)
    for i in range(0, 60, 2):
        await cache.put(f"asahi:t1:org1:{i}", f"answer {i}".encode(), 60)
    calls = 0
    evalsha = client.evalsha

    async def counted(*args: object) -> object:
        nonlocal calls
        calls += 1
        return await evalsha(*args)  # type: ignore[arg-type]

    client.evalsha = counted  # type: ignore[method-assign]
    values = await asyncio.gather(*(cache.get(f"asahi:t1:org1:{i}") for i in range(60)))
    assert values == [f"answer {i}".encode() if i % 2 == 0 else None for i in range(60)]
    assert calls <= 2  # the first request's read goes at once, the other 59 wait for it and go together
    assert int(await client.get(HITS_KEY)) == 30 and int(await client.get(MISSES_KEY)) == 30
    await client.aclose()


async def test_a_cancelled_read_leaves_the_rest_of_its_batch_answered(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    cache = RedisExactCache(client)
    await cache.put("asahi:t1:org1:a", b"a", 60)
    first, second, third = (asyncio.ensure_future(cache.get(f"asahi:t1:org1:{k}")) for k in "aab")
    await asyncio.sleep(0)
    second.cancel()
    assert await first == b"a" and await third is None
    assert second.cancelled()
    assert await cache.get("asahi:t1:org1:a") == b"a"  # nothing left stuck in flight
    await client.aclose()


async def test_redis_failure_raises_cache_unavailable() -> None:
    cache = RedisExactCache(aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2))
    with pytest.raises(CacheUnavailable):
        await cache.get("asahi:t1:x:y")
    with pytest.raises(CacheUnavailable):
        await cache.put("asahi:t1:x:y", b"v", 10)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_redis_dying_mid_flight_means_uncached_not_failed(make_settings: SettingsFactory) -> None:
    instance, stop = await start(make_settings())
    try:
        org = await instance.signup()
        tier1 = instance.app.state.components.tier1
        tier1.backend = RedisExactCache(aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2))
        body = {"model": "asahi-sim-gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        headers = {"Authorization": f"Bearer {org['api_key']}"}
        for _ in range(2):
            response = await instance.client.post("/v1/chat/completions", json=body, headers=headers)
            assert response.status_code == 200 and response.headers["x-asahi-cache"] == "miss"
        errors = instance.app.state.components.metrics.cache_errors.labels("t1")._value.get()
        assert errors >= 2
    finally:
        await stop()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_entries_live_at_the_guides_redis_keys(running: Running) -> None:
    org = await running.signup()
    body = {"model": "asahi-sim-gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
    await running.client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {org['api_key']}"})
    redis = running.app.state.components.redis
    keys = sorted([k.decode() async for k in redis.scan_iter(match="asahi:t1:*")])
    assert keys[0].startswith(f"asahi:t1:{org['org_id']}:")
    assert "asahi:t1:misses" in keys
