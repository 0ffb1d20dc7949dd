"""Per-org policy: which models an org may use, its default and baseline models, its limits.

Stored sealed (AES-256-GCM, bound to the org id) in `orgs.policy_sealed`; read through a short in-process cache
because every request needs it.
"""

from __future__ import annotations

import time
from typing import Annotated

import orjson
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.errors import NotFound
from asahi.governance import audit
from asahi.governance.crypto import Sealer
from asahi.store.tables import orgs

_TTL = 5.0


class OrgPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_models: list[str] | None = Field(None, description="None: every configured model")
    default_model: str | None = None
    baseline_model: str | None = Field(None, description="What savings are measured against under autopilot")
    quality_floor: Annotated[float, Field(ge=0.5, le=1.0)] | None = None
    requests_per_minute: Annotated[int, Field(ge=1)] | None = None
    tier2_target_error: Annotated[float, Field(gt=0.0, le=0.2)] | None = None

    def allows(self, model: str) -> bool:
        return self.allowed_models is None or model in self.allowed_models


DEFAULT_POLICY = OrgPolicy()


class PolicyStore:
    def __init__(self, engine: AsyncEngine, sealer: Sealer) -> None:
        self._engine = engine
        self._sealer = sealer
        self._cache: dict[str, tuple[OrgPolicy, float]] = {}

    async def get(self, org_id: str) -> OrgPolicy:
        cached = self._cache.get(org_id)
        now = time.monotonic()
        if cached is not None and cached[1] > now:
            return cached[0]
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(orgs.c.policy_sealed).where(orgs.c.id == org_id))).first()
        policy = DEFAULT_POLICY
        if row is not None and row[0] is not None:
            policy = OrgPolicy.model_validate(orjson.loads(self._sealer.open(row[0], org_id.encode())))
        self._cache[org_id] = (policy, now + _TTL)
        return policy

    async def put(self, org_id: str, policy: OrgPolicy, actor: str) -> None:
        sealed = self._sealer.seal(orjson.dumps(policy.model_dump()), org_id.encode())
        async with self._engine.begin() as connection:
            result = await connection.execute(update(orgs).where(orgs.c.id == org_id).values(policy_sealed=sealed))
            if result.rowcount == 0:
                raise NotFound(f"Org '{org_id}' does not exist.", code="org_not_found")
            await audit.record(connection, org_id=org_id, actor=actor, action="policy.update",
                               details=policy.model_dump(exclude_none=True))
        self._cache.pop(org_id, None)
