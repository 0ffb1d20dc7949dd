"""GET /metrics: Prometheus exposition for the operator.

The figures are process-wide (every org's traffic and spend), so a tenant's key never reads them: the scraper
sends ASAHI_ADMIN_SECRET as `Authorization: Bearer …` or `X-Admin-Secret`. Tenants have /analytics/usage.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from asahi.api.deps import components
from asahi.errors import Forbidden, Unauthorized
from asahi.governance.auth import presented_key

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    built = components(request)
    configured = built.settings.admin_secret
    if configured is None:
        raise Forbidden("Set ASAHI_ADMIN_SECRET to enable /metrics.", code="metrics_disabled")
    offered = request.headers.get("x-admin-secret") or presented_key(request.headers)
    if offered is None or not hmac.compare_digest(offered.encode(), configured.encode()):
        raise Unauthorized("/metrics needs the admin secret.", code="invalid_admin_secret")
    return Response(generate_latest(built.metrics.registry), media_type=CONTENT_TYPE_LATEST)
