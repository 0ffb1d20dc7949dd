"""Fixed-window rate limits: in Redis when present (shared by every instance), else in process memory."""

from __future__ import annotations

import logging
import time

from redis.asyncio import Redis

log = logging.getLogger(__name__)


class RateLimiter:
    def __init__(self, redis: Redis | None = None) -> None:
        self._redis = redis
        self._windows: dict[str, tuple[int, int]] = {}  # key -> (window number, count)

    async def hit(self, key: str, limit: int, window_seconds: int) -> float | None:
        """Count one event; return None when allowed, else the seconds until the window resets."""
        now = time.time()
        window = int(now // window_seconds)
        retry_after = (window + 1) * window_seconds - now
        if self._redis is not None:
            try:
                redis_key = f"asahi:rl:{key}:{window}"
                async with self._redis.pipeline(transaction=True) as pipe:
                    pipe.incr(redis_key)
                    pipe.expire(redis_key, window_seconds + 1)
                    count, _ = await pipe.execute()
                return None if int(count) <= limit else retry_after
            except Exception as exc:  # noqa: BLE001  # a limiter outage must not take the API down
                log.warning("rate limiter fell back to memory: %s", exc)
        current_window, count = self._windows.get(key, (window, 0))
        count = count + 1 if current_window == window else 1
        self._windows[key] = (window, count)
        if len(self._windows) > 100_000:
            self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
        return None if count <= limit else retry_after
