"""Per-org policy: which models an org may use, its default and baseline models, its limits.

Stored sealed (AES-256-GCM, bound to the org id) in `orgs.policy_sealed`; read through a short in-process cache
because every request needs it.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import orjson
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.errors import NotFound
from asahi.governance import audit
from asahi.governance.crypto import Sealer
from asahi.store.availability import DatabaseState, DatabaseUnavailable, is_outage
from asahi.store.lookup_cache import LookupCache
from asahi.store.tables import orgs

_TTL = 5.0
_MAX_CACHED = 100_000
_LOOKUP_TIMEOUT = 2.0  # seconds; past it the database counts as down for this request


class OrgPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_models: list[str] | None = Field(None, description="None: every configured model")
    default_model: str | None = None
    baseline_model: str | None = Field(None, description="What savings are measured against under autopilot")
    quality_floor: Annotated[float, Field(ge=0.5, le=1.0)] | None = None
    requests_per_minute: Annotated[int, Field(ge=1)] | None = None
    tier2_target_error: Annotated[float, Field(gt=0.0, le=0.2)] | None = None
    cascade: bool = Field(False, description="Routed word problems: the cheap model answers first, the strong "
                                             "one only when the cheap answer looks wrong")

    def allows(self, model: str) -> bool:
        return self.allowed_models is None or model in self.allowed_models


DEFAULT_POLICY = OrgPolicy()


class PolicyStore:
    """Policies cached for a few seconds; while the database is down an org's last known policy keeps applying,
    and an org never seen gets 503."""

    def __init__(self, engine: AsyncEngine, sealer: Sealer, database: DatabaseState | None = None) -> None:
        self._engine = engine
        self._sealer = sealer
        self._database = database or DatabaseState()
        self._cache: LookupCache[str, OrgPolicy] = LookupCache(_MAX_CACHED)

    async def get(self, org_id: str) -> OrgPolicy:
        found, policy = self._cache.fresh(org_id)
        if found and policy is not None:
            return policy
        try:
            async with asyncio.timeout(_LOOKUP_TIMEOUT):
                async with self._engine.connect() as connection:
                    query = select(orgs.c.policy_sealed).where(orgs.c.id == org_id)
                    row = (await connection.execute(query)).first()
        except Exception as exc:
            if not is_outage(exc):
                raise
            self._database.failed(exc)
            found, stale = self._cache.stale(org_id)
            if found and stale is not None:
                return stale
            raise DatabaseUnavailable() from None
        self._database.succeeded()
        policy = DEFAULT_POLICY
        if row is not None and row[0] is not None:
            policy = OrgPolicy.model_validate(orjson.loads(self._sealer.open(row[0], org_id.encode())))
        self._cache.put(org_id, policy, _TTL)
        return policy

    async def put(self, org_id: str, policy: OrgPolicy, actor: str) -> None:
        sealed = self._sealer.seal(orjson.dumps(policy.model_dump()), org_id.encode())
        async with self._engine.begin() as connection:
            result = await connection.execute(update(orgs).where(orgs.c.id == org_id).values(policy_sealed=sealed))
            if result.rowcount == 0:
                raise NotFound(f"Org '{org_id}' does not exist.", code="org_not_found")
            await audit.record(connection, org_id=org_id, actor=actor, action="policy.update",
                               details=policy.model_dump(exclude_none=True))
        self._cache.drop(org_id)
