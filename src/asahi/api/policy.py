"""GET/PUT /governance/policy: an org's allowed models, default and baseline models, and limits; and
GET /governance/models: the models this gateway serves, which a policy chooses from."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from asahi.api.admin import admin_actor, audit_context, target_org
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
    named: dict[str, list[str | None]] = {
        "allowed_models": list(body.allowed_models or []), "default_model": [body.default_model],
        "baseline_model": [body.baseline_model],
    }
    for field, models in named.items():
        if unknown := sorted({m for m in models if m is not None and m not in catalog}):
            raise BadRequest(f"{field}: unknown models {unknown}.", code="unknown_model", param=field)
    if body.default_model and not body.allows(body.default_model):
        raise BadRequest("default_model must be one of allowed_models.", code="invalid_policy", param="default_model")
    await built.policies.put(target_org(actor, org_id), body, actor.name, audit_context(request))
    return body


@router.get("/models")
async def served_models(request: Request, org_id: str | None = None) -> dict[str, Any]:
    """Every model whose provider is configured, with its prices (USD per 1M tokens) and whether the org's
    policy allows it."""
    actor = await admin_actor(request)
    built = components(request)
    policy = await built.policies.get(target_org(actor, org_id))
    return {"data": [
        {"name": m.name, "provider": m.provider, "quality": m.quality, "input_price": m.input_price,
         "output_price": m.output_price, "cached_input_price": m.cached_input_price,
         "capabilities": sorted(m.capabilities), "allowed": policy.allows(m.name)}
        for m in built.router.served()
    ]}
