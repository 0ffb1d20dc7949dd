"""Shared request dependencies: the running components and the caller's key."""

from __future__ import annotations

from fastapi import Request

from asahi.components import Components
from asahi.governance.auth import presented_key
from asahi.governance.keys import KeyRecord
from asahi.governance.policy import OrgSuspended


def components(request: Request) -> Components:
    built: Components = request.app.state.components
    return built


async def caller(request: Request) -> KeyRecord:
    """The authenticated key of this request (401 otherwise; 403 while its org is suspended). The org comes from
    here, never from the body."""
    built = components(request)
    key = await built.auth.authenticate(presented_key(request.headers))
    if (await built.policies.state(key.org_id)).suspended:
        raise OrgSuspended()
    return key


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
