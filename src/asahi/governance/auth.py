"""Authentication: resolve a presented API key to its record without a database trip per request.

Verified keys are cached in-process for a short TTL. Revocation is broadcast on a Redis channel, so every instance
drops the key within about a second; without Redis a revoked key lives at most the cache TTL on other instances.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.errors import Forbidden, Unauthorized
from asahi.governance import accounts, keys

log = logging.getLogger(__name__)
REVOCATION_CHANNEL = "asahi:keys:revoked"
_NEGATIVE_TTL = 2.0
_MAX_CACHED = 100_000  # unknown keys are remembered briefly so a flood of bad keys can't hammer the database


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key from `Authorization: Bearer …` (OpenAI SDK) or `x-api-key` (Anthropic SDK)."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    api_key = headers.get("x-api-key")
    return api_key.strip() if api_key else None


class Authenticator:
    def __init__(self, engine: AsyncEngine, ttl: float, redis: Redis | None = None) -> None:
        self._engine = engine
        self._ttl = ttl
        self._redis = redis
        self._cache: dict[str, tuple[keys.KeyRecord | None, float]] = {}  # digest -> (record, expiry)
        self._listener: asyncio.Task[None] | None = None

    async def authenticate(self, key: str | None) -> keys.KeyRecord:
        if not key:
            raise Unauthorized("Missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'.",
                               code="missing_api_key")
        if keys.parse_prefix(key) is None:  # malformed: refused without a cache entry or a database trip
            raise Unauthorized("Invalid API key.")
        key_digest = keys.digest(key)
        now = time.monotonic()
        cached = self._cache.get(key_digest)
        if cached is not None and cached[1] > now:
            record = cached[0]
        else:
            record = await self._load(key, key_digest)
            if len(self._cache) >= _MAX_CACHED:
                self._sweep(now)
            self._cache[key_digest] = (record, now + (self._ttl if record else _NEGATIVE_TTL))
        if record is None:
            raise Unauthorized("Invalid API key.")
        if record.revoked_at is not None:
            raise Unauthorized("This API key has been revoked.", code="revoked_api_key")
        if record.expires_at is not None and record.expires_at <= datetime.now(UTC):
            raise Unauthorized("This API key has expired.", code="expired_api_key")
        return record

    async def _load(self, key: str, key_digest: str) -> keys.KeyRecord | None:
        prefix = keys.parse_prefix(key)
        assert prefix is not None
        found = await accounts.find_key(self._engine, prefix)
        if found is None or not keys.matches(key_digest, found[1]):
            return None
        return found[0]

    def _sweep(self, now: float) -> None:
        """Drop expired entries; if a flood of distinct keys keeps the cache full, start over."""
        self._cache = {k: v for k, v in self._cache.items() if v[1] > now}
        if len(self._cache) >= _MAX_CACHED:
            self._cache.clear()

    def forget(self, key_id: str) -> None:
        for key_digest, (record, _) in list(self._cache.items()):
            if record is not None and record.id == key_id:
                del self._cache[key_digest]

    async def revoked(self, key_id: str) -> None:
        """Called after a revocation commits: drop it here and tell every other instance."""
        self.forget(key_id)
        if self._redis is not None:
            try:
                await self._redis.publish(REVOCATION_CHANNEL, key_id)
            except Exception as exc:  # noqa: BLE001  # other instances fall back to the cache TTL
                log.warning("could not broadcast key revocation: %s", exc)

    async def start(self) -> None:
        if self._redis is not None:
            self._listener = asyncio.create_task(self._listen(self._redis))

    async def _listen(self, redis: Redis) -> None:
        while True:
            try:
                async with redis.pubsub() as pubsub:
                    await pubsub.subscribe(REVOCATION_CHANNEL)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            data = message["data"]
                            self.forget(data.decode() if isinstance(data, bytes) else str(data))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001  # keep listening through Redis restarts
                log.warning("key revocation listener lost Redis: %s", exc)
                # Entries cached while deaf might have missed a revocation.
                self._cache.clear()
                await asyncio.sleep(1.0)

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener


def require_scope(record: keys.KeyRecord, scope: str) -> None:
    if not record.has_scope(scope):
        raise Forbidden(f"This API key lacks the '{scope}' scope.", code="insufficient_scope")
