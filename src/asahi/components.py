"""Every long-lived component of a running Asahi, built once from settings at start-up and closed at shutdown."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi import redis_client
from asahi.governance.auth import Authenticator
from asahi.governance.crypto import Sealer, embedded_key
from asahi.governance.ratelimit import RateLimiter
from asahi.notify import build_mailer
from asahi.notify.base import Mailer
from asahi.observability.metrics import Metrics
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
    started_at: float

    @property
    def cache_backend(self) -> str:
        return "redis" if self.redis is not None else "memory"

    async def aclose(self) -> None:
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
    key = settings.encryption_key or embedded_key(settings.data_dir)
    return Components(
        settings=settings,
        engine=engine,
        database_backend=db.backend_name(url),
        redis=redis,
        auth=auth,
        limiter=RateLimiter(redis),
        sealer=Sealer(key),
        mailer=build_mailer(settings),
        metrics=Metrics(),
        started_at=time.time(),
    )
