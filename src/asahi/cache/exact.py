"""Tier 1, the exact cache: Redis when configured (shared by every instance), else an in-process LRU bounded in
bytes. Entries live at the guide's keys (`asahi:t1:<org_id>:<md5>`) with hit and miss counters at
`asahi:t1:hits` / `asahi:t1:misses`.

A backend failure never fails a request: `get` and `put` raise `CacheUnavailable`, and the pipeline goes on
uncached, logging and counting it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Protocol

from redis.asyncio import Redis

HITS_KEY = "asahi:t1:hits"
MISSES_KEY = "asahi:t1:misses"


class CacheUnavailable(Exception):
    """The cache backend failed; the request should continue without it."""


class ExactCache(Protocol):
    name: str

    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes, ttl_seconds: int) -> None: ...


# Read and count in one round trip.
_GET_AND_COUNT = """
local value = redis.call('GET', KEYS[1])
if value then redis.call('INCR', KEYS[2]) else redis.call('INCR', KEYS[3]) end
return value
"""


class RedisExactCache:
    name = "redis"

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._get_and_count = redis.register_script(_GET_AND_COUNT)

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._get_and_count(keys=[key, HITS_KEY, MISSES_KEY])
        except Exception as exc:  # any Redis failure means "go on uncached"
            raise CacheUnavailable(str(exc)) from exc
        return value if isinstance(value, bytes) or value is None else bytes(value)

    async def put(self, key: str, value: bytes, ttl_seconds: int) -> None:
        try:
            await self._redis.set(key, value, ex=ttl_seconds)
        except Exception as exc:
            raise CacheUnavailable(str(exc)) from exc


class MemoryExactCache:
    """LRU bounded by the total bytes of its values, honouring each entry's TTL."""

    name = "memory"

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None or entry[1] <= time.monotonic():
            if entry is not None:
                self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry[0]

    async def put(self, key: str, value: bytes, ttl_seconds: int) -> None:
        if len(value) > self._max_bytes:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (value, time.monotonic() + ttl_seconds)
        self._bytes += len(value)
        while self._bytes > self._max_bytes:
            oldest = next(iter(self._entries))
            self._drop(oldest)

    def _drop(self, key: str) -> None:
        value, _ = self._entries.pop(key)
        self._bytes -= len(value)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)
