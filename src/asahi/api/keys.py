"""API key administration: create (admin secret or admin key), list and revoke."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints, field_validator

from asahi.api.admin import admin_actor, target_org
from asahi.api.deps import components
from asahi.errors import BadRequest
from asahi.governance import accounts, keys
from asahi.ledger import queries

router = APIRouter(prefix="/governance")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class CreateKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    org_id: str | None = None
    name: Name
    scopes: list[str]
    expires_at: AwareDatetime | None = None

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, value: list[str]) -> list[str]:
        return sorted(keys.parse_scopes(value))


class KeyView(BaseModel):
    id: str
    org_id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = None  # from the ledger: the key's newest request

    @classmethod
    def of(cls, record: keys.KeyRecord, last_used_at: datetime | None = None) -> KeyView:
        return cls(
            id=record.id, org_id=record.org_id, name=record.name, prefix=record.prefix,
            scopes=sorted(record.scopes), created_at=record.created_at, expires_at=record.expires_at,
            revoked_at=record.revoked_at, last_used_at=last_used_at,
        )


class CreatedKey(KeyView):
    api_key: str


@router.post("/api-keys", status_code=201, response_model=CreatedKey)
async def create_api_key(body: CreateKeyRequest, request: Request) -> CreatedKey:
    actor = await admin_actor(request)
    org_id = target_org(actor, body.org_id)
    if body.expires_at is not None and body.expires_at <= datetime.now(UTC):
        raise BadRequest("expires_at must be in the future.", code="invalid_expiry")
    issued = await accounts.create_key(
        components(request).engine, org_id, body.name, frozenset(body.scopes), body.expires_at, actor.name
    )
    return CreatedKey(**KeyView.of(issued.record).model_dump(), api_key=issued.plaintext)


@router.get("/api-keys", response_model=list[KeyView])
async def list_api_keys(request: Request, org_id: str | None = None) -> list[KeyView]:
    actor = await admin_actor(request)
    engine = components(request).engine
    org = target_org(actor, org_id)
    records = await accounts.list_keys(engine, org)
    async with engine.connect() as connection:
        last_used = await queries.keys_last_used(connection, org)
    return [KeyView.of(r, last_used.get(r.id)) for r in records]


@router.delete("/api-keys/{key_id}", response_model=KeyView)
async def revoke_api_key(key_id: str, request: Request, org_id: str | None = None) -> KeyView:
    actor = await admin_actor(request)
    built = components(request)
    record = await accounts.revoke_key(built.engine, target_org(actor, org_id), key_id, actor.name)
    await built.auth.revoked(record.id)
    return KeyView.of(record)
