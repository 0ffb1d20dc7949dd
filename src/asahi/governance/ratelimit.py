"""Rate limits that hold: a sliding window, fleet-wide through Redis, each instance's share without it.

The window is the sliding-window counter (two fixed windows, the previous one weighted by how much of it still
overlaps the last `window` seconds), so nothing lets twice the limit through at a window boundary, and a cost
other than 1 (tokens per minute) counts as easily as a request. With Redis every instance counts in the same
keys in one script call. Without it (not configured, or down) each instance enforces its share of the limit:
the limit divided by the number of live instances it last saw through Redis (each instance keeps a heartbeat
there), or the whole limit when it never saw any.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass

from asahi.redis_client import RedisLink

log = logging.getLogger(__name__)
INSTANCES_KEY = "asahi:instances"
HEARTBEAT_SECONDS = 5.0
INSTANCE_TTL = 15.0  # an instance missing this many seconds of heartbeats no longer counts

# KEYS: current window, previous window. ARGV: limit, cost, weight of the previous window, ttl (ms).
# Returns {allowed (1/0), current count, previous count}.
_SLIDING_WINDOW = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local cost = tonumber(ARGV[2])
if previous * tonumber(ARGV[3]) + current + cost > tonumber(ARGV[1]) then
  return {0, current, previous}
end
redis.call('INCRBY', KEYS[1], cost)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {1, current + cost, previous}
"""


@dataclass(frozen=True, slots=True)
class Window:
    number: int
    elapsed: float  # seconds into the current window


def _window(now: float, seconds: float) -> Window:
    number = int(now // seconds)
    return Window(number, now - number * seconds)


def _retry_after(limit: float, cost: float, current: float, previous: float, window: Window, seconds: float) -> float:
    """Seconds until the same request would fit, as the previous window's weight decays (or the next one starts)."""
    room = limit - cost - current
    if room < 0 or previous <= 0:
        return seconds - window.elapsed
    # previous · (1 − t/seconds) ≤ room  ⇔  t ≥ seconds · (1 − room/previous)
    return max(0.0, seconds * (1 - room / previous) - window.elapsed)


class RateLimiter:
    def __init__(self, link: RedisLink | None = None) -> None:
        self._link = link
        self._script = link.client.register_script(_SLIDING_WINDOW) if link and link.client else None
        self._local: dict[tuple[str, int], float] = {}  # (key, window number) -> count
        self._instance = uuid.uuid4().hex
        self.instances = 1  # live instances last seen through Redis
        self._heartbeat: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._link is not None and self._link.configured:
            self._heartbeat = asyncio.create_task(self._beating())

    async def hit(self, key: str, limit: float, window_seconds: float, cost: float = 1.0) -> float | None:
        """Count `cost` against `key`; None when allowed, else the seconds to wait."""
        now = time.time()
        window = _window(now, window_seconds)
        weight = 1 - window.elapsed / window_seconds
        if self._script is not None and self._link is not None and self._link.up:
            keys = [f"asahi:rl:{key}:{window.number}", f"asahi:rl:{key}:{window.number - 1}"]
            try:
                allowed, current, previous = await self._script(
                    keys=keys, args=[limit, cost, weight, int(window_seconds * 2000)]
                )
            except Exception as exc:  # noqa: BLE001  # a limiter outage must not take the API down
                self._link.failed(exc)
            else:
                if allowed:
                    return None
                return _retry_after(limit, cost, float(current), float(previous), window, window_seconds)
        return self._hit_locally(key, limit / max(1, self.instances), window_seconds, cost, window, weight)

    def _hit_locally(self, key: str, limit: float, seconds: float, cost: float, window: Window, weight: float
                     ) -> float | None:
        current = self._local.get((key, window.number), 0.0)
        previous = self._local.get((key, window.number - 1), 0.0)
        if previous * weight + current + cost > limit:
            return _retry_after(limit, cost, current, previous, window, seconds)
        self._local[(key, window.number)] = current + cost
        if len(self._local) > 100_000:
            self._local = {k: v for k, v in self._local.items() if k[1] >= window.number - 1}
        return None

    async def _beating(self) -> None:
        assert self._link is not None
        while True:
            client = self._link.client
            if client is not None and self._link.up:
                now = time.time()
                try:
                    async with client.pipeline(transaction=True) as pipe:
                        pipe.zadd(INSTANCES_KEY, {self._instance: now})
                        pipe.zremrangebyscore(INSTANCES_KEY, "-inf", now - INSTANCE_TTL)
                        pipe.zcard(INSTANCES_KEY)
                        *_, live = await pipe.execute()
                    self.instances = max(1, int(live))
                except Exception as exc:  # noqa: BLE001  # keep the last count; the link's probe reconnects
                    self._link.failed(exc)
            await asyncio.sleep(HEARTBEAT_SECONDS)

    async def aclose(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            if self._link is not None and self._link.client is not None and self._link.up:
                with contextlib.suppress(Exception):
                    await self._link.client.zrem(INSTANCES_KEY, self._instance)
