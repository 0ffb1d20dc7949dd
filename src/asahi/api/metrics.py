"""GET /metrics: Prometheus exposition, for keys with the analytics scope."""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from asahi.api.deps import caller, components
from asahi.governance.auth import require_scope

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    require_scope(await caller(request), "analytics")
    return Response(generate_latest(components(request).metrics.registry), media_type=CONTENT_TYPE_LATEST)
