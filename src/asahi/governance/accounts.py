"""Orgs and their API keys in the database. Every write is one transaction: no half-written org or key."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from asahi.errors import Conflict, NotFound
from asahi.governance import audit, keys
from asahi.governance.budgets.spec import Budget
from asahi.store.tables import api_keys, orgs


@dataclass(frozen=True, slots=True)
class Org:
    id: str
    name: str
    email: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OrgRecord:
    id: str
    name: str
    email: str
    created_at: datetime
    suspended_at: datetime | None


@dataclass(frozen=True, slots=True)
class IssuedKey:
    record: keys.KeyRecord
    plaintext: str


def _new_id() -> str:
    return uuid.uuid4().hex


def key_from_row(row: Row[tuple[object, ...]]) -> keys.KeyRecord:
    m = row._mapping
    return keys.KeyRecord(
        id=m["id"],
        org_id=m["org_id"],
        name=m["name"],
        prefix=m["prefix"],
        scopes=frozenset(m["scopes"].split(",")),
        created_at=_utc(m["created_at"]),
        expires_at=_aware(m["expires_at"]),
        revoked_at=_aware(m["revoked_at"]),
        allowed_models=None if m["allowed_models"] is None else tuple(m["allowed_models"]),
        requests_per_minute=m["requests_per_minute"],
        tokens_per_minute=m["tokens_per_minute"],
        budgets=tuple(Budget.model_validate(b) for b in m["budgets"] or ()),
    )


@dataclass(frozen=True, slots=True)
class KeyLimits:
    """What a virtual key may carry beyond its scopes; every field optional."""

    allowed_models: list[str] | None = None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    budgets: list[Budget] | None = None

    def columns(self) -> dict[str, Any]:
        return {
            "allowed_models": self.allowed_models, "requests_per_minute": self.requests_per_minute,
            "tokens_per_minute": self.tokens_per_minute,
            "budgets": None if self.budgets is None else [b.model_dump() for b in self.budgets],
        }


def _utc(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything Asahi stores is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


async def _insert_key(
    connection: AsyncConnection,
    org_id: str,
    name: str,
    scopes: frozenset[str],
    expires_at: datetime | None,
    limits: KeyLimits | None = None,
) -> IssuedKey:
    new = keys.generate()
    key_id = _new_id()
    await connection.execute(
        api_keys.insert().values(
            id=key_id, org_id=org_id, name=name, prefix=new.prefix, digest=new.digest,
            scopes=",".join(sorted(scopes)), created_at=datetime.now(UTC), expires_at=expires_at,
            **(limits or KeyLimits()).columns(),
        )
    )
    row = (await connection.execute(select(api_keys).where(api_keys.c.id == key_id))).one()
    return IssuedKey(record=key_from_row(row), plaintext=new.plaintext)


async def create_org_with_key(engine: AsyncEngine, name: str, email: str, actor: str,
                              context: audit.Context | None = None) -> tuple[Org, IssuedKey]:
    """Create an org and its first admin key together."""
    org = Org(id=_new_id(), name=name, email=email, created_at=datetime.now(UTC))
    try:
        async with engine.begin() as connection:
            existing = await connection.execute(select(orgs.c.id).where(orgs.c.name_key == name.casefold()))
            if existing.first() is not None:
                raise Conflict(f"An org named '{name}' already exists.", code="org_exists")
            await connection.execute(
                orgs.insert().values(
                    id=org.id, name=name, name_key=name.casefold(), email=email, created_at=org.created_at
                )
            )
            issued = await _insert_key(connection, org.id, "default", frozenset({"admin"}), None)
            await audit.record(connection, org_id=org.id, actor=actor, action="org.create", target=org.id,
                               context=context)
            await audit.record(connection, org_id=org.id, actor=actor, action="key.create", target=issued.record.id,
                               details={"scopes": ["admin"]}, context=context)
    except IntegrityError:
        # Two signups raced for the same name; the database's unique index decided.
        raise Conflict(f"An org named '{name}' already exists.", code="org_exists") from None
    return org, issued


async def create_key(
    engine: AsyncEngine,
    org_id: str,
    name: str,
    scopes: frozenset[str],
    expires_at: datetime | None,
    actor: str,
    limits: KeyLimits | None = None,
    context: audit.Context | None = None,
) -> IssuedKey:
    async with engine.begin() as connection:
        exists = (await connection.execute(select(orgs.c.id).where(orgs.c.id == org_id))).first()
        if exists is None:
            raise NotFound(f"Org '{org_id}' does not exist.", code="org_not_found")
        issued = await _insert_key(connection, org_id, name, scopes, expires_at, limits)
        await audit.record(
            connection, org_id=org_id, actor=actor, action="key.create", target=issued.record.id,
            details={"scopes": sorted(scopes), **_limit_details(limits)}, context=context,
        )
    return issued


def _limit_details(limits: KeyLimits | None) -> dict[str, Any]:
    """What the audit log keeps of a key's limits: the values, none of them secret."""
    if limits is None:
        return {}
    return {k: v for k, v in limits.columns().items() if v is not None}


async def update_key(
    engine: AsyncEngine, org_id: str, key_id: str, changes: dict[str, Any], actor: str,
    context: audit.Context | None = None,
) -> keys.KeyRecord:
    """Change a key's name, expiry or limits (`changes` holds only what the caller sent; None clears a limit)."""
    columns = dict(changes)
    if "budgets" in columns and columns["budgets"] is not None:
        columns["budgets"] = [Budget.model_validate(b).model_dump() for b in columns["budgets"]]
    async with engine.begin() as connection:
        row = (await connection.execute(
            select(api_keys).where(api_keys.c.id == key_id, api_keys.c.org_id == org_id))).first()
        if row is None:
            raise NotFound(f"Key '{key_id}' does not exist in this org.", code="key_not_found")
        if columns:
            await connection.execute(update(api_keys).where(api_keys.c.id == key_id).values(**columns))
            await audit.record(connection, org_id=org_id, actor=actor, action="key.update", target=key_id,
                               details={"changed": sorted(columns), **{k: v for k, v in columns.items()
                                                                        if k != "expires_at"}},
                               context=context)
        row = (await connection.execute(select(api_keys).where(api_keys.c.id == key_id))).one()
    return key_from_row(row)


async def list_keys(engine: AsyncEngine, org_id: str) -> list[keys.KeyRecord]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(api_keys).where(api_keys.c.org_id == org_id).order_by(api_keys.c.created_at)
        )
        return [key_from_row(row) for row in rows]


async def revoke_key(engine: AsyncEngine, org_id: str, key_id: str, actor: str,
                     context: audit.Context | None = None) -> keys.KeyRecord:
    """Revoke a key of `org_id`. A key of another org is reported as not found, never touched."""
    now = datetime.now(UTC)
    async with engine.begin() as connection:
        row = (
            await connection.execute(
                select(api_keys).where(api_keys.c.id == key_id, api_keys.c.org_id == org_id)
            )
        ).first()
        if row is None:
            raise NotFound(f"Key '{key_id}' does not exist in this org.", code="key_not_found")
        record = key_from_row(row)
        if record.revoked_at is None:
            await connection.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=now))
            await audit.record(connection, org_id=org_id, actor=actor, action="key.revoke", target=key_id,
                               context=context)
            record = replace(record, revoked_at=now)
    return record


async def find_key(engine: AsyncEngine, prefix: str) -> tuple[keys.KeyRecord, str] | None:
    """The key with this public prefix and its stored digest."""
    async with engine.connect() as connection:
        row = (await connection.execute(select(api_keys).where(api_keys.c.prefix == prefix))).first()
    if row is None:
        return None
    return key_from_row(row), row._mapping["digest"]


async def list_orgs(engine: AsyncEngine) -> list[OrgRecord]:
    async with engine.connect() as connection:
        rows = await connection.execute(select(orgs.c.id, orgs.c.name, orgs.c.email, orgs.c.created_at,
                                               orgs.c.suspended_at).order_by(orgs.c.created_at, orgs.c.id))
        return [OrgRecord(r.id, r.name, r.email, _utc(r.created_at), _aware(r.suspended_at)) for r in rows]


async def set_suspended(engine: AsyncEngine, org_id: str, suspended: bool, actor: str,
                        context: audit.Context | None = None) -> OrgRecord:
    """Suspend (every key of the org refused) or resume an org; a no-op change is not audited."""
    async with engine.begin() as connection:
        row = (await connection.execute(select(orgs).where(orgs.c.id == org_id))).first()
        if row is None:
            raise NotFound(f"Org '{org_id}' does not exist.", code="org_not_found")
        was = row._mapping["suspended_at"]
        if (was is not None) != suspended:
            when = datetime.now(UTC) if suspended else None
            await connection.execute(update(orgs).where(orgs.c.id == org_id).values(suspended_at=when))
            await audit.record(connection, org_id=org_id, actor=actor,
                               action="org.suspend" if suspended else "org.resume", target=org_id, context=context)
        row = (await connection.execute(select(orgs).where(orgs.c.id == org_id))).one()
    m = row._mapping
    return OrgRecord(m["id"], m["name"], m["email"], _utc(m["created_at"]), _aware(m["suspended_at"]))
