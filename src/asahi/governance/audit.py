"""The audit log: who did what to which org, written in the same transaction as the change itself.

Rows are chained per org (rows without an org, the operator's, form one chain of their own): each carries the
SHA-256 of the previous row's hash and its own content, so editing, inserting or deleting a row breaks the chain
from there on, and `verify` names the first broken link. Appends to one chain are serialised (PostgreSQL: an
advisory lock per chain; SQLite: the row is written before its predecessor is read, and SQLite has one writer).

`details` say what changed (field names and non-secret values); never a secret, a sealed blob or a whole policy.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select, text, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from asahi.store.tables import audit_log

ADMIN_SECRET_ACTOR = "admin-secret"
_LOCK_SPACE = 0x61756474  # "audt": advisory locks of the audit chains


@dataclass(frozen=True, slots=True)
class Context:
    """Where a change came from: the request and the client address."""

    request_id: str | None = None
    client: str | None = None


@dataclass(frozen=True, slots=True)
class Broken:
    id: int
    org_id: str | None
    reason: str


def _moment(value: datetime) -> str:
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def row_hash(row: RowMapping | dict[str, Any], prev_hash: str | None) -> str:
    content = {
        "org_id": row["org_id"], "actor": row["actor"], "action": row["action"], "target": row["target"],
        "details": row["details"], "created_at": _moment(row["created_at"]), "request_id": row["request_id"],
        "client": row["client"], "prev_hash": prev_hash,
    }
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _same_chain(org_id: str | None) -> Any:
    return audit_log.c.org_id.is_(None) if org_id is None else audit_log.c.org_id == org_id


async def record(
    connection: AsyncConnection,
    *,
    org_id: str | None,
    actor: str,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    context: Context | None = None,
) -> None:
    context = context or Context()
    if connection.dialect.name == "postgresql":
        chain = zlib.crc32((org_id or "").encode()) & 0x7FFFFFFF
        await connection.execute(text("SELECT pg_advisory_xact_lock(:space, :chain)"),
                                 {"space": _LOCK_SPACE, "chain": chain})
    values = {
        "org_id": org_id, "actor": actor, "action": action, "target": target, "details": details,
        "created_at": datetime.now(UTC), "request_id": context.request_id, "client": context.client,
    }
    inserted = await connection.execute(audit_log.insert().values(**values))
    assert inserted.inserted_primary_key is not None
    row_id = inserted.inserted_primary_key[0]
    previous = (await connection.execute(
        select(audit_log.c.hash).where(_same_chain(org_id), audit_log.c.id < row_id)
        .order_by(audit_log.c.id.desc()).limit(1))).scalar()
    stored = (await connection.execute(select(audit_log).where(audit_log.c.id == row_id))).one()._mapping
    await connection.execute(update(audit_log).where(audit_log.c.id == row_id).values(
        prev_hash=previous, hash=row_hash(stored, previous)))


async def _rows(engine: AsyncEngine, org_id: str | None, every: bool) -> AsyncIterator[RowMapping]:
    query = select(audit_log).order_by(audit_log.c.id)
    if not every:
        query = query.where(_same_chain(org_id))
    async with engine.connect() as connection:
        for row in (await connection.execute(query)).all():
            yield row._mapping


async def verify(engine: AsyncEngine, org_id: str | None = None, *, every: bool = True) -> Broken | None:
    """The first row whose link does not hold (all chains, or the one of `org_id`), or None when all hold."""
    last: dict[str | None, str | None] = {}
    async for row in _rows(engine, org_id, every):
        chain = row["org_id"]
        previous = last.get(chain)
        if row["hash"] is None:
            if chain in last:  # a row after the chain began has lost its hash
                return Broken(row["id"], chain, "row has no hash")
            continue  # written before the log was chained
        if row["prev_hash"] != previous:
            return Broken(row["id"], chain, "previous hash does not match the row before it (a row was removed, "
                                            "inserted or altered)")
        if row_hash(row, previous) != row["hash"]:
            return Broken(row["id"], chain, "content does not match its hash (the row was altered)")
        last[chain] = row["hash"]
    return None
