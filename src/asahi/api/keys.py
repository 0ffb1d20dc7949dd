"""API key administration: create (admin secret or admin key), list, change and revoke.

A key may carry its own limits (a virtual key): allowed models, request and token rates, budgets. They apply on
top of its org's policy, the stricter winning, on every surface.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, field_validator

from asahi.api.admin import admin_actor, audit_context, target_org
from asahi.api.deps import components
from asahi.api.fields import Expiry, Name
from asahi.errors import BadRequest
from asahi.governance import accounts, keys
from asahi.governance.budgets.spec import Budget, unique_windows
from asahi.governance.policy import PerMinute
from asahi.ledger import queries

router = APIRouter(prefix="/governance")



class KeyLimitsBody(BaseModel):
    """A virtual key's own limits; omitted: none beyond the org's."""

    allowed_models: list[str] | None = None
    requests_per_minute: PerMinute | None = None
    tokens_per_minute: PerMinute | None = None
    budgets: list[Budget] | None = None

    @field_validator("budgets")
    @classmethod
    def _one_per_window(cls, value: list[Budget] | None) -> list[Budget] | None:
        return unique_windows(value)


class CreateKeyRequest(KeyLimitsBody):
    model_config = ConfigDict(extra="forbid")
    org_id: str | None = None
    name: Name
    scopes: list[str]
    expires_at: Expiry | None = None

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, value: list[str]) -> list[str]:
        return sorted(keys.parse_scopes(value))


class UpdateKeyRequest(KeyLimitsBody):
    """Only the fields sent change; `null` clears a limit."""

    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    expires_at: Expiry | None = None


class KeyView(BaseModel):
    id: str
    org_id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    allowed_models: list[str] | None = None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    budgets: list[Budget] = []
    last_used_at: datetime | None = None  # from the ledger: the key's newest request

    @classmethod
    def of(cls, record: keys.KeyRecord, last_used_at: datetime | None = None) -> KeyView:
        return cls(
            id=record.id, org_id=record.org_id, name=record.name, prefix=record.prefix,
            scopes=sorted(record.scopes), created_at=record.created_at, expires_at=record.expires_at,
            revoked_at=record.revoked_at, last_used_at=last_used_at,
            allowed_models=None if record.allowed_models is None else list(record.allowed_models),
            requests_per_minute=record.requests_per_minute, tokens_per_minute=record.tokens_per_minute,
            budgets=list(record.budgets),
        )


class CreatedKey(KeyView):
    api_key: str


def _check_models(request: Request, models: list[str] | None) -> None:
    catalog = components(request).router.catalog
    if unknown := sorted({m for m in models or () if m not in catalog}):
        raise BadRequest(f"allowed_models: unknown models {unknown}.", code="unknown_model", param="allowed_models")


def _check_expiry(expires_at: datetime | None) -> None:
    if expires_at is not None and expires_at <= datetime.now(UTC):
        raise BadRequest("expires_at must be in the future.", code="invalid_expiry", param="expires_at")


@router.post("/api-keys", status_code=201, response_model=CreatedKey)
async def create_api_key(body: CreateKeyRequest, request: Request) -> CreatedKey:
    actor = await admin_actor(request)
    org_id = target_org(actor, body.org_id)
    _check_expiry(body.expires_at)
    _check_models(request, body.allowed_models)
    limits = accounts.KeyLimits(body.allowed_models, body.requests_per_minute, body.tokens_per_minute, body.budgets)
    issued = await accounts.create_key(
        components(request).engine, org_id, body.name, frozenset(body.scopes), body.expires_at, actor.name,
        limits, audit_context(request),
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


@router.patch("/api-keys/{key_id}", response_model=KeyView)
async def update_api_key(key_id: str, body: UpdateKeyRequest, request: Request, org_id: str | None = None
                         ) -> KeyView:
    actor = await admin_actor(request)
    built = components(request)
    changes: dict[str, Any] = body.model_dump(include=body.model_fields_set)
    if changes.get("name", "") is None:
        raise BadRequest("name cannot be null.", code="invalid_request", param="name")
    _check_expiry(body.expires_at)
    _check_models(request, body.allowed_models)
    record = await accounts.update_key(built.engine, target_org(actor, org_id), key_id, changes, actor.name,
                                       audit_context(request))
    await built.auth.revoked(record.id)  # every instance drops its cached copy and reads the new limits
    return KeyView.of(record)


@router.delete("/api-keys/{key_id}", response_model=KeyView)
async def revoke_api_key(key_id: str, request: Request, org_id: str | None = None) -> KeyView:
    actor = await admin_actor(request)
    built = components(request)
    record = await accounts.revoke_key(built.engine, target_org(actor, org_id), key_id, actor.name,
                                       audit_context(request))
    await built.auth.revoked(record.id)
    return KeyView.of(record)
