"""Authentication: resolve a presented API key to its record without a database trip per request.

Verified keys are cached in-process for a short TTL. Revocation is broadcast on a Redis channel, so every instance
drops the key within about a second; without Redis a revoked key lives at most the cache TTL on other instances.
Each time the subscription is (re)established the cache is emptied: a revocation published while this instance
was not listening is then caught up from the database.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.errors import Forbidden, Unauthorized
from asahi.governance import accounts, keys
from asahi.redis_client import RedisLink, Subscription
from asahi.store.availability import DatabaseState, DatabaseUnavailable, guarded_read
from asahi.store.lookup_cache import LookupCache

log = logging.getLogger(__name__)
REVOCATION_CHANNEL = "asahi:keys:revoked"
_NEGATIVE_TTL = 2.0  # unknown keys and prefixes are remembered briefly so a repeated bad key costs one query
_MAX_CACHED = 100_000
_MAX_CONCURRENT_LOOKUPS = 8


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
    """Keys are checked against the database once per `ttl` and cached (an LRU). While the database is down a key
    seen before keeps working from its stale entry, and an unseen one gets 503 rather than 401 or 500."""

    def __init__(
        self, engine: AsyncEngine, ttl: float, link: RedisLink | None = None, *,
        database: DatabaseState | None = None, max_cached: int = _MAX_CACHED,
    ) -> None:
        self._engine = engine
        self._ttl = ttl
        self._link = link
        self._database = database or DatabaseState()
        # digest -> its record (None: no such key); "prefix:<p>" -> None for a prefix no key has.
        self._cache: LookupCache[str, keys.KeyRecord | None] = LookupCache(max_cached)
        # Unknown keys cost a database query each: at most this many at once, so a flood of invented keys cannot
        # take every pooled connection from the requests of real tenants.
        self._lookups = asyncio.Semaphore(_MAX_CONCURRENT_LOOKUPS)
        self._listener: Subscription | None = None

    async def authenticate(self, key: str | None) -> keys.KeyRecord:
        if not key:
            raise Unauthorized("Missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'.",
                               code="missing_api_key")
        prefix = keys.parse_prefix(key)
        if prefix is None:  # malformed: refused without a cache entry or a database trip
            raise Unauthorized("Invalid API key.")
        key_digest = keys.digest(key)
        found, record = self._cache.fresh(key_digest)
        if not found:
            unknown_prefix, _ = self._cache.fresh(f"prefix:{prefix}")
            record = None if unknown_prefix else await self._lookup(key, prefix, key_digest)
        if record is None:
            raise Unauthorized("Invalid API key.")
        if record.revoked_at is not None:
            raise Unauthorized("This API key has been revoked.", code="revoked_api_key")
        if record.expires_at is not None and record.expires_at <= datetime.now(UTC):
            raise Unauthorized("This API key has expired.", code="expired_api_key")
        return record

    async def _lookup(self, key: str, prefix: str, key_digest: str) -> keys.KeyRecord | None:
        try:
            async with self._lookups:
                found = await guarded_read(self._database, lambda: accounts.find_key(self._engine, prefix))
        except DatabaseUnavailable:
            cached, stale = self._cache.stale(key_digest)
            if cached:
                return stale
            raise
        if found is None:
            self._cache.put(f"prefix:{prefix}", None, _NEGATIVE_TTL)
            return None
        record = found[0] if keys.matches(key_digest, found[1]) else None
        self._cache.put(key_digest, record, self._ttl if record else _NEGATIVE_TTL)
        return record

    def forget(self, key_id: str) -> None:
        self._cache.drop_where(lambda record: record is not None and record.id == key_id)

    async def revoked(self, key_id: str) -> None:
        """Called after a revocation commits: drop it here and tell every other instance."""
        self.forget(key_id)
        if self._link is not None and self._link.client is not None and self._link.up:
            try:
                await self._link.client.publish(REVOCATION_CHANNEL, key_id)
            except Exception as exc:  # noqa: BLE001  # other instances fall back to the cache TTL
                self._link.failed(exc)
                log.warning("could not broadcast key revocation: %s", type(exc).__name__)

    async def start(self) -> None:
        if self._link is not None:
            self._listener = Subscription(self._link, REVOCATION_CHANNEL, self._revoked_elsewhere, self._resubscribed)
            self._listener.start()

    async def _revoked_elsewhere(self, key_id: str) -> None:
        self.forget(key_id)

    async def _resubscribed(self) -> None:
        # Keys cached while not listening may have been revoked meanwhile: look them up again.
        self._cache.clear()

    async def aclose(self) -> None:
        if self._listener is not None:
            await self._listener.aclose()


def require_scope(record: keys.KeyRecord, scope: str) -> None:
    if not record.has_scope(scope):
        raise Forbidden(f"This API key lacks the '{scope}' scope.", code="insufficient_scope")
