"""The pipeline's tier 1 step: the exact cache, read and written as answers, never failing a request.

A backend failure (Redis down, a malformed entry) is counted, logged and treated as a miss or a skipped write:
the request goes on uncached.
"""

from __future__ import annotations

import logging

from asahi.cache import codec
from asahi.cache.exact import CacheUnavailable, ExactCache
from asahi.cache.keys import request_fingerprint, tier1_key
from asahi.domain import ChatRequest
from asahi.observability.metrics import Metrics

log = logging.getLogger(__name__)


class Tier1:
    def __init__(self, backend: ExactCache, metrics: Metrics, ttl_seconds: int) -> None:
        self.backend = backend
        self._metrics = metrics
        self._ttl = ttl_seconds

    @staticmethod
    def key(org_id: str, request: ChatRequest, scope: str) -> str:
        """The guide's `asahi:t1:<org_id>:<md5>`; `scope` is the resolved model or the routing mode and hints."""
        return tier1_key(org_id, request_fingerprint(request, scope))

    async def get(self, key: str) -> codec.CachedAnswer | None:
        try:
            blob = await self.backend.get(key)
            return None if blob is None else codec.decode(blob)
        except CacheUnavailable as exc:
            self._failed("read", exc)
        except (ValueError, KeyError, TypeError) as exc:  # an entry this version cannot read: a miss
            self._failed("decode", exc)
        return None

    async def put(self, key: str, answer: codec.CachedAnswer) -> None:
        try:
            await self.backend.put(key, codec.encode(answer), self._ttl)
        except CacheUnavailable as exc:
            self._failed("write", exc)

    async def get_bytes(self, key: str) -> bytes | None:
        """An entry of an endpoint beside chat (embeddings, completions), as stored; a failure is a miss."""
        try:
            return await self.backend.get(key)
        except CacheUnavailable as exc:
            self._failed("read", exc)
        return None

    async def put_bytes(self, key: str, value: bytes) -> None:
        try:
            await self.backend.put(key, value, self._ttl)
        except CacheUnavailable as exc:
            self._failed("write", exc)

    def _failed(self, step: str, exc: Exception) -> None:
        self._metrics.cache_errors.labels("t1").inc()
        log.warning("tier 1 %s failed, going on uncached: %s", step, type(exc).__name__)
