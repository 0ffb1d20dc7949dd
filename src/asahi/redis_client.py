"""Connecting to Redis at start-up, with the guide's fallback to memory when it is unreachable."""

from __future__ import annotations

import logging

from redis.asyncio import Redis

log = logging.getLogger(__name__)


async def connect(url: str | None) -> Redis | None:
    """A pinged client, or None (memory backends) with the guide's log line when init or ping fails."""
    if url is None:
        return None
    client: Redis | None = None
    try:
        client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2, health_check_interval=30)
        await client.ping()
    except Exception as exc:  # noqa: BLE001  # any failure means: run on memory, say why
        log.warning("Redis cache init or ping failed: %s", _describe(exc))
        if client is not None:
            await client.aclose()
        return None
    return client


def _describe(exc: Exception) -> str:
    # The exception text never includes the password; the URL itself is not logged.
    return f"{type(exc).__name__}: {exc}"
