"""Every long-lived component of a running Asahi, built once from settings at start-up and closed at shutdown."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi import redis_client
from asahi.cache.exact import ExactCache, MemoryExactCache, RedisExactCache
from asahi.cache.semantic.cache import SemanticCache
from asahi.cache.semantic.confirm import Confirmation
from asahi.cache.semantic.store import SemanticStore, SemanticSync
from asahi.cache.semantic.tier2 import Tier2
from asahi.cache.tier1 import Tier1
from asahi.cache.vectors.factory import build_vector_index
from asahi.embeddings.factory import build_embedding
from asahi.governance.auth import Authenticator
from asahi.governance.crypto import Sealer, embedded_key
from asahi.governance.policy import PolicyStore
from asahi.governance.ratelimit import RateLimiter
from asahi.ledger.recorder import LedgerWriter
from asahi.notify import build_mailer
from asahi.notify.base import Mailer
from asahi.observability.metrics import Metrics
from asahi.pipeline import Pipeline, PipelineConfig
from asahi.providers.base import Provider
from asahi.providers.registry import build_providers
from asahi.providers.resilience import Resilience, RetryPolicy
from asahi.routing.catalog import Catalog
from asahi.routing.learned import LearnedRouter
from asahi.routing.router import Router
from asahi.settings import Settings, SettingsError
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
    router: Router
    policies: PolicyStore
    tier1: Tier1
    tier2: Tier2 | None
    ledger: LedgerWriter
    pipeline: Pipeline
    started_at: float

    @property
    def cache_backend(self) -> str:
        return "redis" if self.redis is not None else "memory"

    def describe_tier2(self) -> dict[str, str | None]:
        if self.tier2 is None:
            return {"embedder": None, "vector_store": None}
        return {"embedder": self.tier2.embedding.name, "vector_store": self.tier2.cache.index.name}

    async def aclose(self) -> None:
        if self.tier2 is not None:
            await self.tier2.aclose()
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
    router = _router(settings, set(providers))
    policies = PolicyStore(engine, sealer)
    tier1 = Tier1(_exact_cache(settings, redis), metrics, int(str(_tier1_settings(settings).get("ttl_seconds", 86400))))
    tier2 = await _tier2(settings, engine, redis, metrics)
    pipeline = Pipeline(
        router=router,
        providers=providers,
        policies=policies,
        limiter=limiter,
        tier1=tier1,
        tier2=tier2,
        config=_pipeline_config(settings),
        ledger=ledger,
        metrics=metrics,
        resilience=_resilience(settings),
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
        router=router,
        policies=policies,
        tier1=tier1,
        tier2=tier2,
        ledger=ledger,
        pipeline=pipeline,
        started_at=time.time(),
    )


def _tier1_settings(settings: Settings) -> dict[str, object]:
    cache = settings.section("cache").get("tier1") or {}
    assert isinstance(cache, dict)
    return cache


def _exact_cache(settings: Settings, redis: Redis | None) -> ExactCache:
    if redis is not None:
        return RedisExactCache(redis)
    return MemoryExactCache(int(str(_tier1_settings(settings).get("memory_max_bytes", 256 * 1024 * 1024))))


def _pipeline_config(settings: Settings) -> PipelineConfig:
    tier1 = _tier1_settings(settings)
    return PipelineConfig(
        max_temperature=float(str(tier1.get("max_cacheable_temperature", 0.7))),
        request_timeout=float(settings.section("routing").get("request_timeout_seconds", 120)),
    )


def _resilience(settings: Settings) -> Resilience:
    routing = settings.section("routing")
    breaker = routing.get("circuit_breaker") or {}
    return Resilience(
        RetryPolicy(max_retries=int(routing.get("max_retries", 2))),
        breaker_threshold=int(breaker.get("failures", 5)),
        breaker_cooldown=float(breaker.get("cooldown_seconds", 30)),
    )


# Used when neither the org nor the config names one: the first whose provider is configured.
DEFAULT_PREFERENCE = ("gpt-4o-mini", "claude-haiku-4-5", "asahi-sim-gpt-4o-mini")
BASELINE_PREFERENCE = ("gpt-4o", "claude-sonnet-4-5", "asahi-sim-gpt-4o")


def _first_served(catalog: Catalog, providers: set[str], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if (m := catalog.get(n)) is not None and m.provider in providers), None)


def _router(settings: Settings, providers: set[str]) -> Router:
    routing = settings.section("routing")
    catalog = Catalog.from_config(settings.config)
    fallbacks = routing.get("fallbacks") or {}
    if not isinstance(fallbacks, dict):
        raise SettingsError("config routing.fallbacks must map a model to the list of models to fall back to")
    return Router(
        catalog, LearnedRouter.load(), providers=frozenset(providers),
        default_model=routing.get("default_model") or _first_served(catalog, providers, DEFAULT_PREFERENCE),
        baseline_model=routing.get("baseline_model") or _first_served(catalog, providers, BASELINE_PREFERENCE),
        quality_floor=float(routing.get("quality_floor", 0.95)), fallbacks=fallbacks,
    )


async def _tier2(settings: Settings, engine: AsyncEngine, redis: Redis | None, metrics: Metrics) -> Tier2 | None:
    config = settings.section("cache").get("tier2") or {}
    if not config.get("enabled", True):
        return None
    embeddings = settings.section("embeddings")
    embedding = build_embedding(
        provider=str(embeddings.get("provider", "auto")), cohere_api_key=settings.cohere_api_key,
        cohere_base_url=settings.cohere_base_url, model=str(embeddings.get("model", "embed-english-v3.0")),
        dimension=int(embeddings["dimension"]) if settings.cohere_api_key and "dimension" in embeddings else None,
    )
    ttl = int(config.get("ttl_seconds", 604800))
    bounds = {"max_entries_per_org": int(config.get("max_entries_per_org", 100_000)),
              "max_bytes_per_org": int(config.get("max_bytes_per_org", 512 * 1024 * 1024)), "ttl_seconds": ttl}
    index = await build_vector_index(
        dimension=embedding.search.dimension, pinecone_api_key=settings.pinecone_api_key,
        pinecone_index=settings.pinecone_index, pinecone_host=settings.pinecone_host,
        pinecone_control_host=settings.environ.get("PINECONE_CONTROLLER_HOST") or None, **bounds,
    )

    cache = SemanticCache(
        index, delta=float(config.get("target_error_rate", 0.02)),
        verify_sample_rate=float(config.get("verify_sample_rate", 0.05)),
        confirmation=None if embedding.confirm is None else Confirmation(embedding.confirm),
    )
    store = SemanticStore(engine, cache, embedding.name, ttl)
    loaded = await store.load()  # a shared index (Pinecone) already holds them: only this instance's view loads
    if loaded:
        log.info("tier 2 loaded %d entries", loaded)
    sync = SemanticSync(store, redis, poll=settings.database_url is not None)
    await sync.start()
    return Tier2(cache, embedding, store, sync, metrics, int(config.get("max_prompt_chars", 8000)))
