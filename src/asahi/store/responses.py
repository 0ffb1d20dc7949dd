"""Stored Responses API conversations, per org: what `previous_response_id` continues.

A row holds the whole conversation up to and including that answer (input items, then output items), so
continuing it is one read, and an org can only ever read its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.store.tables import stored_responses


class ResponseStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, org_id: str, response_id: str) -> list[dict[str, Any]] | None:
        query = select(stored_responses.c.conversation).where(
            stored_responses.c.id == response_id, stored_responses.c.org_id == org_id)
        async with self._engine.connect() as connection:
            raw = (await connection.execute(query)).scalar_one_or_none()
        if raw is None:
            return None
        items: list[dict[str, Any]] = orjson.loads(raw)
        return items

    async def put(self, org_id: str, response_id: str, items: list[dict[str, Any]]) -> None:
        row = {"id": response_id, "org_id": org_id, "conversation": orjson.dumps(items).decode(),
               "created_at": datetime.now(UTC)}
        async with self._engine.begin() as connection:
            await connection.execute(insert(stored_responses).values(**row))
