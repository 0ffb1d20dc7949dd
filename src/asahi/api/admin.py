"""Who may administer an org: the admin secret (any org) or an admin-scoped key (its own org only)."""

from __future__ import annotations

import hmac

from fastapi import Request
from pydantic import BaseModel

from asahi.api.deps import client_ip, components
from asahi.errors import BadRequest, Forbidden, Unauthorized
from asahi.governance import audit
from asahi.governance.auth import presented_key, require_scope
from asahi.governance.policy import OrgSuspended


class Actor(BaseModel):
    """Who is calling: the admin secret (any org) or an admin-scoped key (its own org only)."""

    name: str
    org_id: str | None  # None: may act on any org


async def admin_actor(request: Request) -> Actor:
    built = components(request)
    secret = request.headers.get("x-admin-secret")
    if secret is not None:
        configured = built.settings.admin_secret
        if configured is None:
            raise Forbidden("ASAHI_ADMIN_SECRET is not configured; use an admin-scoped API key.",
                            code="admin_secret_disabled")
        if not hmac.compare_digest(secret.encode(), configured.encode()):
            raise Unauthorized("Wrong admin secret.", code="invalid_admin_secret")
        return Actor(name=audit.ADMIN_SECRET_ACTOR, org_id=None)
    record = await built.auth.authenticate(presented_key(request.headers))
    require_scope(record, "admin")
    if (await built.policies.state(record.org_id)).suspended:
        raise OrgSuspended()
    return Actor(name=f"key:{record.id}", org_id=record.org_id)


async def operator(request: Request) -> Actor:
    """The operator only (`X-Admin-Secret`): what spans orgs."""
    actor = await admin_actor(request)
    if actor.org_id is not None:
        raise Forbidden("Only the operator (X-Admin-Secret) may do this.", code="operator_only")
    return actor


def target_org(actor: Actor, org_id: str | None) -> str:
    if actor.org_id is None:
        if org_id is None:
            raise BadRequest("org_id is required when using the admin secret.", code="missing_org_id")
        return org_id
    if org_id is not None and org_id != actor.org_id:
        raise Forbidden("An admin key can only manage its own org.", code="cross_org_forbidden")
    return actor.org_id


def audit_context(request: Request) -> audit.Context:
    """The request id and client address an audit row records."""
    state = request.scope.get("state") or {}
    rid = state.get("request_id")
    return audit.Context(request_id=None if rid is None else str(rid), client=client_ip(request)[:64])
