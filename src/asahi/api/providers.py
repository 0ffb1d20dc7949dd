"""An org's own provider credentials (BYOK): `PUT /governance/providers/{name}` stores one (write-only),
`GET /governance/providers` lists which providers have one (masked), `DELETE` goes back to the operator's."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, StringConstraints

from asahi.api.admin import admin_actor, audit_context, target_org
from asahi.api.deps import components
from asahi.errors import NotFound
from asahi.governance.credentials import StoredCredential
from asahi.providers.http import HttpProvider

router = APIRouter(prefix="/governance")

KNOWN = frozenset({"openai", "anthropic"})
Secret = Annotated[str, StringConstraints(strip_whitespace=True, min_length=8, max_length=500)]


class CredentialBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_key: Secret


def _view(stored: StoredCredential) -> dict[str, Any]:
    return {"provider": stored.provider, "api_key": stored.masked, "updated_at": stored.updated_at}


def _provider(request: Request, name: str) -> str:
    """OpenAI, Anthropic and the configured compatible servers take a key (not the simulator). A key for one the
    operator has not configured is kept, and used once it is."""
    takes = KNOWN | {n for n, p in components(request).providers.items() if isinstance(p, HttpProvider)}
    if name not in takes:
        raise NotFound(f"No provider '{name}' takes a key here; these do: {', '.join(sorted(takes))}.",
                       code="provider_not_found")
    return name


@router.put("/providers/{name}")
async def put_credential(name: str, body: CredentialBody, request: Request, org_id: str | None = None
                         ) -> dict[str, Any]:
    actor = await admin_actor(request)
    stored = await components(request).credentials.put(
        target_org(actor, org_id), _provider(request, name), body.api_key, actor.name, audit_context(request))
    return _view(stored)


@router.get("/providers")
async def list_credentials(request: Request, org_id: str | None = None) -> dict[str, Any]:
    actor = await admin_actor(request)
    return {"data": [_view(s) for s in await components(request).credentials.listed(target_org(actor, org_id))]}


@router.delete("/providers/{name}", status_code=204)
async def delete_credential(name: str, request: Request, org_id: str | None = None) -> None:
    actor = await admin_actor(request)
    await components(request).credentials.remove(target_org(actor, org_id), name, actor.name, audit_context(request))
