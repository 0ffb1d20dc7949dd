"""Tier 1, the exact cache: Redis when configured (shared by every instance), else an in-process LRU bounded in
bytes. Entries live at the guide's keys (`asahi:t1:<org_id>:<md5>`) with hit and miss counters at
`asahi:t1:hits` / `asahi:t1:misses`.

A backend failure never fails a request: `get` and `put` raise `CacheUnavailable`, and the pipeline goes on
uncached, logging and counting it.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Protocol

from asahi.redis_client import RedisLink

if TYPE_CHECKING:
    from redis.asyncio import Redis

HITS_KEY = "asahi:t1:hits"
MISSES_KEY = "asahi:t1:misses"


class CacheUnavailable(Exception):
    """The cache backend failed; the request should continue without it."""


class ExactCache(Protocol):
    @property
    def name(self) -> str: ...

    async def get(self, key: str) -> bytes | None: ...

    async def put(self, key: str, value: bytes, ttl_seconds: int) -> None: ...


# Reads and counts every waiting key in one round trip (KEYS: hit counter, miss counter, then the entries).
# Missing keys come back from MGET as false.
_GET_AND_COUNT = """
local values = redis.call('MGET', unpack(KEYS, 3))
local hits = 0
for i = 1, #values do if values[i] then hits = hits + 1 end end
if hits > 0 then redis.call('INCRBY', KEYS[1], hits) end
if hits < #values then redis.call('INCRBY', KEYS[2], #values - hits) end
return values
"""


class RedisExactCache:
    """Tier 1 in Redis. Reads of concurrent requests share round trips.

    A busy instance would otherwise pay redis-py's per-command cost (connection checkout, packing, a socket
    write and a wake-up on the reply) on every request. Keys asked for while a read is in flight go together
    in the next one, so under load one script call serves many requests, and a lone request still goes at once.
    """

    name = "redis"
    MAX_BATCH = 256  # keys per script call: bounds the Lua stack and the size of one reply

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._script = redis.register_script(_GET_AND_COUNT)
        self._waiting: list[tuple[str, asyncio.Future[bytes | None]]] = []
        self._in_flight: asyncio.Task[None] | None = None

    async def get(self, key: str) -> bytes | None:
        future: asyncio.Future[bytes | None] = asyncio.get_running_loop().create_future()
        self._waiting.append((key, future))
        if self._in_flight is None:
            self._send()
        return await future

    def _send(self) -> None:
        # The task's first step runs after the requests already scheduled in this turn of the event loop, so
        # those that reach tier 1 in the same turn join the batch.
        self._in_flight = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        batch, self._waiting = self._waiting[: self.MAX_BATCH], self._waiting[self.MAX_BATCH :]
        try:
            values = await self._script(keys=[HITS_KEY, MISSES_KEY, *(key for key, _ in batch)])
            if not isinstance(values, list) or len(values) != len(batch):
                raise CacheUnavailable(f"tier 1 read: expected {len(batch)} values, got {type(values).__name__}")
        except BaseException as exc:  # any Redis failure means "go on uncached", for every request in the batch
            for _, future in batch:
                if not future.done():
                    future.set_exception(CacheUnavailable(str(exc) or type(exc).__name__))
            if not isinstance(exc, Exception):
                raise
        else:
            for (_, future), value in zip(batch, values, strict=True):
                if not future.done():  # its request may have been cancelled meanwhile
                    future.set_result(None if value is None else bytes(value))
        finally:
            self._in_flight = None
            if self._waiting:
                self._send()

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


class FailoverCache:
    """Redis while the link is up, the in-process LRU while it is not.

    A Redis failure opens the link's breaker (so the next requests do not wait on it) and is raised for the
    pipeline to count; once the link's probe sees Redis again, entries are shared again.
    """

    def __init__(self, link: RedisLink, shared: ExactCache, local: ExactCache) -> None:
        self._link = link
        self._shared = shared
        self._local = local

    @property
    def name(self) -> str:
        return "redis" if self._link.up else "memory"

    async def get(self, key: str) -> bytes | None:
        if not self._link.up:
            return await self._local.get(key)
        try:
            return await self._shared.get(key)
        except CacheUnavailable as exc:
            self._link.failed(exc)
            raise

    async def put(self, key: str, value: bytes, ttl_seconds: int) -> None:
        if not self._link.up:
            await self._local.put(key, value, ttl_seconds)
            return
        try:
            await self._shared.put(key, value, ttl_seconds)
        except CacheUnavailable as exc:
            self._link.failed(exc)
            raise
