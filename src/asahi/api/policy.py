"""GET/PUT /governance/policy: an org's allowed models, default and baseline models, and limits."""

from __future__ import annotations

from fastapi import APIRouter, Request

from asahi.api.admin import admin_actor, target_org
from asahi.api.deps import components
from asahi.errors import BadRequest
from asahi.governance.policy import OrgPolicy

router = APIRouter(prefix="/governance")


@router.get("/policy", response_model=OrgPolicy)
async def get_policy(request: Request, org_id: str | None = None) -> OrgPolicy:
    actor = await admin_actor(request)
    return await components(request).policies.get(target_org(actor, org_id))


@router.put("/policy", response_model=OrgPolicy)
async def put_policy(body: OrgPolicy, request: Request, org_id: str | None = None) -> OrgPolicy:
    actor = await admin_actor(request)
    built = components(request)
    catalog = built.router.catalog
    named = [*(body.allowed_models or []), body.default_model, body.baseline_model]
    if unknown := sorted({m for m in named if m is not None and m not in catalog}):
        raise BadRequest(f"Unknown models {unknown}.", code="unknown_model")
    if body.default_model and not body.allows(body.default_model):
        raise BadRequest("default_model must be one of allowed_models.", code="invalid_policy")
    await built.policies.put(target_org(actor, org_id), body, actor.name)
    return body
