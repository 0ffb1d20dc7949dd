"""GET /analytics/usage: what an org spent and saved, from the ledger, grouped by cause and by model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, select

from asahi.api.deps import caller, components
from asahi.governance.auth import require_scope
from asahi.store.tables import usage_records

router = APIRouter(prefix="/analytics")


@router.get("/usage")
async def usage(request: Request, days: int = Query(30, ge=1, le=366)) -> dict[str, Any]:
    key = await caller(request)
    require_scope(key, "analytics")
    since = datetime.now(UTC) - timedelta(days=days)
    scope = (usage_records.c.org_id == key.org_id) & (usage_records.c.created_at >= since)
    sums = (
        func.count(),
        func.coalesce(func.sum(usage_records.c.cost_usd), 0.0),
        func.coalesce(func.sum(usage_records.c.baseline_cost_usd), 0.0),
        func.coalesce(func.sum(usage_records.c.saved_usd), 0.0),
        func.coalesce(func.sum(usage_records.c.input_tokens), 0),
        func.coalesce(func.sum(usage_records.c.output_tokens), 0),
    )
    async with components(request).engine.connect() as connection:
        total = (await connection.execute(select(*sums).where(scope))).one()
        incomplete = (await connection.execute(
            select(func.count()).where(scope, usage_records.c.cost_complete.is_(False))
        )).scalar_one()
        by_cause = (await connection.execute(
            select(usage_records.c.saving_cause, *sums).where(scope).group_by(usage_records.c.saving_cause)
        )).all()
        by_model = (await connection.execute(
            select(usage_records.c.model_used, *sums).where(scope).group_by(usage_records.c.model_used)
        )).all()

    def figures(row: Any, offset: int = 0) -> dict[str, Any]:
        return {
            "requests": int(row[offset]), "cost_usd": float(row[offset + 1]),
            "baseline_cost_usd": float(row[offset + 2]), "saved_usd": float(row[offset + 3]),
            "input_tokens": int(row[offset + 4]), "output_tokens": int(row[offset + 5]),
        }

    return {
        "org_id": key.org_id,
        "since": since.isoformat(),
        "total": {**figures(total), "rows_with_unknown_price": int(incomplete)},
        "by_cause": {str(row[0] or "none"): figures(row, 1) for row in by_cause},
        "by_model": {str(row[0]): figures(row, 1) for row in by_model},
    }
