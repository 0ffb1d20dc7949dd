"""GET /governance/budgets: every budget of the caller's org and of its keys, with what is spent and held now."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from asahi.api.admin import admin_actor, target_org
from asahi.api.deps import components
from asahi.governance import accounts
from asahi.governance.budgets.service import describe, refs

router = APIRouter(prefix="/governance")


@router.get("/budgets")
async def list_budgets(request: Request, org_id: str | None = None) -> dict[str, Any]:
    actor = await admin_actor(request)
    built = components(request)
    org = target_org(actor, org_id)
    policy = await built.policies.get(org)
    budget_refs = refs(org, policy.budgets, org, None)
    for record in await accounts.list_keys(built.engine, org):
        if record.revoked_at is None:
            budget_refs += refs(org, None, record.id, list(record.budgets))
    levels = await built.budgets.levels(budget_refs)
    return {"data": [describe(claim, level) for claim, level in levels]}
