"""The operator's endpoints (`X-Admin-Secret` only): list and create orgs, suspend and resume one, see any org's
usage. Every change is in the audit log, as the operator's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, EmailStr

from asahi.api.admin import audit_context, operator
from asahi.api.deps import components
from asahi.api.fields import Name
from asahi.api.signup import SignupResponse
from asahi.governance import accounts
from asahi.ledger.queries import Window, usage_summary

router = APIRouter(prefix="/governance")


class CreateOrgRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org_name: Name
    email: EmailStr


def _view(org: accounts.OrgRecord) -> dict[str, Any]:
    return {"id": org.id, "name": org.name, "email": org.email, "created_at": org.created_at,
            "suspended": org.suspended_at is not None, "suspended_at": org.suspended_at}


@router.get("/orgs")
async def list_orgs(request: Request) -> dict[str, Any]:
    await operator(request)
    return {"data": [_view(o) for o in await accounts.list_orgs(components(request).engine)]}


@router.post("/orgs", status_code=201, response_model=SignupResponse)
async def create_org(body: CreateOrgRequest, request: Request) -> SignupResponse:
    actor = await operator(request)
    org, issued = await accounts.create_org_with_key(components(request).engine, body.org_name, str(body.email),
                                                     actor=actor.name, context=audit_context(request))
    return SignupResponse(org_id=org.id, org_name=org.name, api_key=issued.plaintext, key_id=issued.record.id,
                          scopes=sorted(issued.record.scopes))


async def _suspension(request: Request, org_id: str, suspended: bool) -> dict[str, Any]:
    actor = await operator(request)
    built = components(request)
    org = await accounts.set_suspended(built.engine, org_id, suspended, actor.name, audit_context(request))
    built.policies.forget(org_id)  # this instance at once; the others within the policy cache's few seconds
    return _view(org)


@router.post("/orgs/{org_id}/suspend")
async def suspend_org(org_id: str, request: Request) -> dict[str, Any]:
    return await _suspension(request, org_id, True)


@router.post("/orgs/{org_id}/resume")
async def resume_org(org_id: str, request: Request) -> dict[str, Any]:
    return await _suspension(request, org_id, False)


@router.get("/orgs/{org_id}/usage")
async def org_usage(org_id: str, request: Request,
                    days: Annotated[int, Query(ge=1, le=366)] = 30) -> dict[str, Any]:
    await operator(request)
    end = datetime.now(UTC)
    async with components(request).engine.connect() as connection:
        summary = await usage_summary(connection, Window(org_id, end - timedelta(days=days), end))
    return {"org_id": org_id, "days": days, **summary}
