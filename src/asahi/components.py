"""Every long-lived component of a running Asahi, built once from settings at start-up and closed at shutdown."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi import redis_client
from asahi.cache.exact import ExactCache, MemoryExactCache, RedisExactCache
from asahi.choice import ModelChooser
from asahi.governance.auth import Authenticator
from asahi.governance.crypto import Sealer, embedded_key
from asahi.governance.policy import PolicyStore
from asahi.governance.ratelimit import RateLimiter
from asahi.ledger.recorder import LedgerWriter
from asahi.notify import build_mailer
from asahi.notify.base import Mailer
from asahi.observability.metrics import Metrics
from asahi.pipeline import CachePolicy, Pipeline
from asahi.providers.base import Provider
from asahi.providers.registry import build_providers
from asahi.routing.catalog import Catalog
from asahi.settings import Settings
from asahi.store import db
from asahi.store.migrate import migrate

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Components:
    settings: Settings
    engine: AsyncEngine
    database_backend: str
    redis: Redis | None
    auth: Authenticator
    limiter: RateLimiter
    sealer: Sealer
    mailer: Mailer
    metrics: Metrics
    providers: dict[str, Provider]
    ledger: LedgerWriter
    pipeline: Pipeline
    started_at: float

    @property
    def cache_backend(self) -> str:
        return "redis" if self.redis is not None else "memory"

    def describe_tier2(self) -> dict[str, str | None]:
        return {"embedder": None, "vector_store": None}

    async def aclose(self) -> None:
        await self.ledger.aclose()
        for provider in self.providers.values():
            await provider.aclose()
        await self.auth.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        await self.engine.dispose()


async def build(settings: Settings) -> Components:
    url = db.database_url(settings)
    engine = db.create_engine(url)
    await migrate(engine)
    redis = await redis_client.connect(settings.redis_url)
    auth_ttl = float(settings.section("auth").get("key_cache_ttl_seconds", 10))
    auth = Authenticator(engine, ttl=auth_ttl, redis=redis)
    await auth.start()
    sealer = Sealer(settings.encryption_key or embedded_key(settings.data_dir))
    metrics = Metrics()
    limiter = RateLimiter(redis)
    providers = build_providers(settings)
    ledger = LedgerWriter(engine, metrics)
    await ledger.start()
    routing = settings.section("routing")
    chooser = ModelChooser(
        Catalog.from_config(settings.config), set(providers), routing.get("default_model"),
        routing.get("baseline_model"),
    )
    pipeline = Pipeline(
        chooser=chooser,
        providers=providers,
        policies=PolicyStore(engine, sealer),
        limiter=limiter,
        tier1=_tier1(settings, redis),
        cache_policy=_cache_policy(settings),
        ledger=ledger,
        metrics=metrics,
    )
    return Components(
        settings=settings,
        engine=engine,
        database_backend=db.backend_name(url),
        redis=redis,
        auth=auth,
        limiter=limiter,
        sealer=sealer,
        mailer=build_mailer(settings),
        metrics=metrics,
        providers=providers,
        ledger=ledger,
        pipeline=pipeline,
        started_at=time.time(),
    )


def _tier1_settings(settings: Settings) -> dict[str, object]:
    cache = settings.section("cache").get("tier1") or {}
    assert isinstance(cache, dict)
    return cache


def _tier1(settings: Settings, redis: Redis | None) -> ExactCache:
    if redis is not None:
        return RedisExactCache(redis)
    return MemoryExactCache(int(str(_tier1_settings(settings).get("memory_max_bytes", 256 * 1024 * 1024))))


def _cache_policy(settings: Settings) -> CachePolicy:
    tier1 = _tier1_settings(settings)
    return CachePolicy(
        ttl_seconds=int(str(tier1.get("ttl_seconds", 86400))),
        max_temperature=float(str(tier1.get("max_cacheable_temperature", 0.7))),
    )
