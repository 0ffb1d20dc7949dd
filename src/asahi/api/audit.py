"""GET /governance/audit: the audit log of an org, newest first, a page at a time (admin keys: their own org;
the operator's secret: any org)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from asahi.api.admin import admin_actor, target_org
from asahi.api.deps import components
from asahi.store.tables import audit_log

router = APIRouter(prefix="/governance")


@router.get("/audit")
async def audit_entries(
    request: Request,
    org_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[int | None, Query(ge=1, description="the `next_before` of the previous page")] = None,
) -> dict[str, Any]:
    actor = await admin_actor(request)
    org = target_org(actor, org_id)
    query = select(audit_log).where(audit_log.c.org_id == org).order_by(audit_log.c.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(audit_log.c.id < before)
    async with components(request).engine.connect() as connection:
        rows = [r._mapping for r in (await connection.execute(query)).all()]
    page = rows[:limit]
    return {
        "data": [{"id": r["id"], "org_id": r["org_id"], "actor": r["actor"], "action": r["action"],
                  "target": r["target"], "details": r["details"], "request_id": r["request_id"],
                  "client": r["client"], "created_at": r["created_at"], "hash": r["hash"],
                  "prev_hash": r["prev_hash"]} for r in page],
        "next_before": page[-1]["id"] if len(rows) > limit else None,
    }
