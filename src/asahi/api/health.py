"""GET /health: liveness plus what this instance is running on (the guide's `cache_backend` included)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request

from asahi import __version__
from asahi.api.deps import components

router = APIRouter()


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    built = components(request)
    return {
        "status": "ok",
        "version": __version__,
        "uptime_seconds": round(time.time() - built.started_at, 3),
        "cache_backend": built.cache_backend,
        "database_backend": built.database_backend,
        "providers": sorted(built.providers),
        **built.describe_tier2(),
    }
