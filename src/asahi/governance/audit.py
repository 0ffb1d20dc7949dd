"""The audit log: who did what to which org, written in the same transaction as the change itself."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from asahi.store.tables import audit_log

ADMIN_SECRET_ACTOR = "admin-secret"


async def record(
    connection: AsyncConnection,
    *,
    org_id: str | None,
    actor: str,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    await connection.execute(
        audit_log.insert().values(
            org_id=org_id, actor=actor, action=action, target=target, details=details, created_at=datetime.now(UTC)
        )
    )
