"""Shared request dependencies: the running components and the caller's key."""

from __future__ import annotations

from fastapi import Request

from asahi.components import Components
from asahi.governance.auth import presented_key
from asahi.governance.keys import KeyRecord


def components(request: Request) -> Components:
    built: Components = request.app.state.components
    return built


async def caller(request: Request) -> KeyRecord:
    """The authenticated key of this request (401 otherwise). The org comes from here, never from the body."""
    return await components(request).auth.authenticate(presented_key(request.headers))


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
