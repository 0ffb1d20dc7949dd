"""Every long-lived component of a running Asahi, built once from settings at start-up and closed at shutdown.

`build` registers each component's close on one exit stack as soon as it is started, so a failure half-way
through start-up (a bad Pinecone index, a database that refuses the migration) closes what was already started
instead of leaking connections and tasks.
"""

from __future__ import annotations

import logging
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.cache.exact import ExactCache, FailoverCache, MemoryExactCache, RedisExactCache
from asahi.cache.semantic.cache import SemanticCache
from asahi.cache.semantic.confirm import Confirmation
from asahi.cache.semantic.store import SemanticStore, SemanticSync
from asahi.cache.semantic.tier2 import Tier2
from asahi.cache.tier1 import Tier1
from asahi.cache.vectors.factory import build_vector_index
from asahi.cascade import Cascade
from asahi.embeddings.check import EmbedderCheck, check_embedder
from asahi.embeddings.factory import Tier2Embedding, build_embedding, shared_minilm
from asahi.governance.auth import Authenticator
from asahi.governance.budgets.alerts import Alerts
from asahi.governance.budgets.service import Budgets
from asahi.governance.credentials import CredentialStore
from asahi.governance.crypto import Sealer
from asahi.governance.policy import PolicyStore
from asahi.governance.ratelimit import RateLimiter
from asahi.governance.refusals import RefusalLog
from asahi.governance.rotation import sealer_for
from asahi.ledger.recorder import LedgerWriter, SpoolSettings
from asahi.notify import build_mailer
from asahi.notify.base import Mailer
from asahi.observability.metrics import Metrics
from asahi.paths.build import Paths, build_paths
from asahi.pipeline import Pipeline, PipelineConfig
from asahi.providers.base import Provider
from asahi.providers.registry import build_providers
from asahi.providers.resilience import Resilience, RetryPolicy
from asahi.redis_client import RedisLink
from asahi.routing.catalog import Catalog
from asahi.routing.learned import LearnedRouter
from asahi.routing.online.service import OnlineRouting
from asahi.routing.router import Router
from asahi.routing.verifier import Verifier
from asahi.settings import Settings
from asahi.store import db
from asahi.store.availability import DatabaseState
from asahi.store.migrate import migrate
from asahi.verification import RoutingVerifier, Spending

log = logging.getLogger(__name__)

# Used when neither the org nor the config names one: the first whose provider is configured.
DEFAULT_PREFERENCE = ("gpt-4o-mini", "claude-haiku-4-5", "asahi-sim-gpt-4o-mini")
BASELINE_PREFERENCE = ("gpt-4o", "claude-sonnet-4-5", "asahi-sim-gpt-4o")
_MIN_HOLD_SECONDS = 900.0


@dataclass(slots=True)
class Components:
    settings: Settings
    engine: AsyncEngine
    database_backend: str
    database: DatabaseState
    redis: RedisLink
    auth: Authenticator
    limiter: RateLimiter
    sealer: Sealer
    mailer: Mailer
    metrics: Metrics
    providers: dict[str, Provider]
    router: Router
    policies: PolicyStore
    budgets: Budgets
    credentials: CredentialStore
    tier1: Tier1
    tier2: Tier2 | None
    verifier: RoutingVerifier | None
    ledger: LedgerWriter
    pipeline: Pipeline
    paths: Paths  # the endpoints beside chat (embeddings, completions, token counts, Responses API)
    started_at: float
    _closing: AsyncExitStack
    embedder_check: EmbedderCheck | None = None  # the embedder as tried at start-up (None: tier 2 off)

    @property
    def cache_backend(self) -> str:
        """The guide's field: what tier 1 is on right now."""
        return "redis" if self.redis.up else "memory"

    def describe_tier2(self) -> dict[str, str | None]:
        if self.tier2 is None:
            return {"embedder": None, "vector_store": None}
        return {"embedder": self.tier2.embedder.name, "vector_store": self.tier2.cache.index.name}

    async def aclose(self) -> None:
        """Close everything in the reverse order it was started: the ledger drains before the database goes."""
        await self._closing.aclose()


async def build(settings: Settings) -> Components:
    stack = AsyncExitStack()
    try:
        url = db.database_url(settings)
        engine = db.create_engine(url)
        stack.push_async_callback(engine.dispose)
        await migrate(engine)
        database = DatabaseState()
        redis = RedisLink(settings.redis_url)
        await redis.start()
        stack.push_async_callback(redis.aclose)
        auth = Authenticator(engine, ttl=settings.config.auth.key_cache_ttl_seconds, link=redis, database=database)
        await auth.start()
        stack.push_async_callback(auth.aclose)
        providers = build_providers(settings)
        for provider in providers.values():
            stack.push_async_callback(provider.aclose)
        metrics = Metrics()
        ledger = LedgerWriter(engine, metrics, _spool_settings(settings))
        await ledger.start()
        stack.push_async_callback(ledger.aclose)
        tier2, embedder_check = await _tier2(settings, engine, redis, metrics)
        if tier2 is not None:
            stack.push_async_callback(tier2.aclose)
        sealer = sealer_for(settings)
        limiter = RateLimiter(redis)
        await limiter.start()
        stack.push_async_callback(limiter.aclose)
        router = _router(settings, set(providers))
        policies = PolicyStore(engine, sealer, database)
        tier1 = Tier1(_exact_cache(settings, redis), metrics, settings.config.cache.tier1.ttl_seconds)
        routing = settings.config.routing
        resilience = Resilience(
            RetryPolicy(max_retries=routing.max_retries),
            breaker_threshold=routing.circuit_breaker.failures,
            breaker_cooldown=routing.circuit_breaker.cooldown_seconds,
        )
        mailer = build_mailer(settings)
        # A hold outlives the longest request it can cover (a stream's idle timeout restarts with each event).
        hold_seconds = max(_MIN_HOLD_SECONDS, 4 * routing.request_timeout_seconds)
        refusals = RefusalLog(engine)
        credentials = CredentialStore(engine, sealer, database)
        alerts = Alerts(engine, mailer, private_webhooks=settings.config.notify.private_webhooks)
        budgets = Budgets(engine, redis, alerts, refusals, hold_seconds=hold_seconds)
        stack.push_async_callback(budgets.aclose)
        verifier, cascade = None, None
        if router.online is not None:
            judge = router.catalog.get(routing.online.judge_model or router.default_model or "")
            verifier = RoutingVerifier(router.online, providers, resilience, ledger, engine, judge,
                                       timeout=routing.request_timeout_seconds,
                                       spending=Spending(credentials, policies, budgets))
            await verifier.start()
            stack.push_async_callback(verifier.aclose)
            cascade = Cascade(verifier, Verifier.load(), providers, resilience,
                              timeout=routing.request_timeout_seconds)
        pipeline = Pipeline(
            router=router, providers=providers, policies=policies, limiter=limiter, tier1=tier1, tier2=tier2,
            config=PipelineConfig(
                max_temperature=settings.config.cache.tier1.max_cacheable_temperature,
                request_timeout=routing.request_timeout_seconds,
                prompt_caching=settings.config.cache.tier3.enabled,
            ),
            ledger=ledger, metrics=metrics, resilience=resilience, verifier=verifier,
            router_embedder=shared_minilm(),  # loads on the first routed request, not at start-up
            cascade=cascade,
            budgets=budgets, refusals=refusals, credentials=credentials,
        )
        stack.push_async_callback(pipeline.settled)
        paths = build_paths(settings, engine, pipeline, tier1, router, providers)
        stack.push_async_callback(paths.aclose)
    except BaseException:
        await stack.aclose()
        raise
    return Components(
        settings=settings, engine=engine, database_backend=db.backend_name(url), database=database, redis=redis,
        auth=auth,
        limiter=limiter, sealer=sealer, mailer=mailer, metrics=metrics, providers=providers,
        router=router, policies=policies, budgets=budgets, credentials=credentials,
        tier1=tier1, tier2=tier2, verifier=verifier, ledger=ledger,
        pipeline=pipeline, paths=paths, started_at=time.time(), _closing=stack, embedder_check=embedder_check,
    )


def _spool_settings(settings: Settings) -> SpoolSettings:
    ledger = settings.config.ledger
    return SpoolSettings(
        directory=settings.data_dir / "ledger-spool", segment_bytes=ledger.spool_segment_bytes,
        max_bytes=ledger.spool_max_bytes, sync_interval=ledger.sync_interval_ms / 1000, batch_size=ledger.batch_rows,
    )


def _exact_cache(settings: Settings, redis: RedisLink) -> ExactCache:
    local = MemoryExactCache(settings.config.cache.tier1.memory_max_bytes)
    if redis.client is None:
        return local
    return FailoverCache(redis, RedisExactCache(redis.client), local)


def _first_served(catalog: Catalog, providers: set[str], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if (m := catalog.get(n)) is not None and m.provider in providers), None)


def _router(settings: Settings, providers: set[str]) -> Router:
    routing = settings.config.routing
    catalog = Catalog.from_config(settings.config)
    learned = LearnedRouter.load()
    return Router(
        catalog, learned, providers=frozenset(providers),
        default_model=routing.default_model or _first_served(catalog, providers, DEFAULT_PREFERENCE),
        baseline_model=routing.baseline_model or _first_served(catalog, providers, BASELINE_PREFERENCE),
        quality_floor=routing.quality_floor, fallbacks=routing.fallbacks,
        online=OnlineRouting(learned) if routing.online.enabled else None,
    )


async def _checked_embedding(settings: Settings) -> tuple[Tier2Embedding, EmbedderCheck]:
    """The configured embedders, the searching one tried once (the local MiniLM is left to load on first use); a
    provider that rejects its key is replaced by the local pair."""
    embeddings = settings.config.embeddings
    embedding = build_embedding(
        provider=embeddings.provider, cohere_api_key=settings.cohere_api_key,
        cohere_base_url=settings.cohere_base_url, model=embeddings.model,
        dimension=embeddings.dimension if settings.cohere_api_key else None,
    )
    check = await check_embedder(embedding.search)
    if check.status == "rejected":
        log.error("%s at start-up; tier 2 embeds with the local model instead until the key is fixed",
                  check.reason)
        await embedding.search.aclose()
        embedding = build_embedding(provider="local")
    elif check.status == "unreachable":
        log.warning("embedder %s failed at start-up (%s); tier 2 skips requests while it stays down",
                    check.embedder, check.reason)
    return embedding, check


async def _tier2(
    settings: Settings, engine: AsyncEngine, redis: RedisLink, metrics: Metrics
) -> tuple[Tier2 | None, EmbedderCheck | None]:
    config = settings.config.cache.tier2
    if not config.enabled:
        return None, None
    embedding, check = await _checked_embedding(settings)
    index = await build_vector_index(
        dimension=embedding.search.dimension, pinecone_api_key=settings.pinecone_api_key,
        pinecone_index=settings.pinecone_index, pinecone_host=settings.pinecone_host,
        pinecone_control_host=settings.pinecone_controller_host, max_entries_per_org=config.max_entries_per_org,
        max_bytes_per_org=config.max_bytes_per_org, max_entries_total=config.max_entries_total,
        ttl_seconds=config.ttl_seconds,
    )
    cache = SemanticCache(
        index, delta=config.target_error_rate, verify_sample_rate=config.verify_sample_rate,
        confirmation=None if embedding.confirm is None else Confirmation(embedding.confirm),
    )
    store = SemanticStore(engine, cache, embedding.name, config.ttl_seconds)
    loaded = await store.load()  # a shared index (Pinecone) already holds them: only this instance's view loads
    if loaded:
        log.info("tier 2 loaded %d entries", loaded)
    # Without Redis, instances sharing a database poll it for each other's entries.
    sync = SemanticSync(store, redis, poll=settings.database_url is not None and not redis.configured)
    await sync.start()
    return Tier2(cache, embedding, store, sync, metrics, config.max_prompt_chars), check
