"""Health for operators and load balancers.

- `GET /health`: what this instance runs on and the live state of each backend (database, Redis, the ledger
  spool, providers' breakers) and the embedder as tried at start-up (`embedder_check`, with the provider's reason
  when it refused the key); `status` is `degraded` when one is down. `cache_backend` is the guide's field.
- `GET /health/live`: the process answers (liveness: restart it when this fails).
- `GET /health/ready`: it can take traffic (readiness: 503 while the ledger spool is full, so a balancer sends
  requests elsewhere). A database outage alone does not make an instance unready: cached keys keep being served.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import text
from starlette.responses import JSONResponse

from asahi import __version__
from asahi.api.deps import components
from asahi.components import Components
from asahi.store.availability import is_outage

router = APIRouter()
PING_TIMEOUT = 1.0


async def _database(built: Components) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(PING_TIMEOUT), built.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:
        if not is_outage(exc):
            raise
        built.database.failed(exc)
        return {"status": "down", "backend": built.database_backend}
    built.database.succeeded()
    return {"status": "ok", "backend": built.database_backend,
            "latency_ms": round((time.perf_counter() - started) * 1000, 3)}


async def _redis(built: Components) -> dict[str, Any]:
    link = built.redis
    if link.client is None:
        return {"status": "off"}
    try:
        async with asyncio.timeout(PING_TIMEOUT):
            await link.client.ping()
    except Exception as exc:  # noqa: BLE001  # any failure: report it and let the link fall back
        link.failed(exc)
        return {"status": "down"}
    # Answering now; the link may still be waiting for its probe to switch back (within a second).
    return {"status": "ok" if link.up else "recovering"}


def _providers(built: Components) -> dict[str, Any]:
    states: dict[str, Any] = {name: {"status": "ok", "breakers": {}} for name in sorted(built.providers)}
    for provider, model, state in built.pipeline.open_breakers():
        if provider in states:
            states[provider]["status"] = "degraded"
            states[provider]["breakers"][model] = state.value
    return states


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    built = components(request)
    database, redis = await asyncio.gather(_database(built), _redis(built))
    ledger = built.ledger.state()
    backends = {"database": database, "redis": redis, "ledger": ledger, "providers": _providers(built)}
    check = built.embedder_check
    degraded = (
        database["status"] != "ok" or redis["status"] == "down" or ledger["status"] != "ok"
        or any(p["status"] != "ok" for p in backends["providers"].values())
        or (check is not None and check.status != "ok")
    )
    return JSONResponse({
        "status": "degraded" if degraded else "ok",
        "version": __version__,
        "uptime_seconds": round(time.time() - built.started_at, 3),
        "cache_backend": built.cache_backend,
        "database_backend": built.database_backend,
        "providers": sorted(built.providers),
        **built.describe_tier2(),
        "embedder_check": None if check is None else check.describe(),
        "backends": backends,
    })


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(request: Request) -> JSONResponse:
    built = components(request)
    if not built.ledger.accepting:
        return JSONResponse({"status": "unready", "reason": "the ledger spool is full"}, 503,
                            headers={"retry-after": "5"})
    return JSONResponse({"status": "ready"})
