"""Per-org policy: which models an org may use, its default and baseline models, its limits.

Stored sealed (AES-256-GCM, bound to the org id) in `orgs.policy_sealed`; read through a short in-process cache
because every request needs it, together with the org's suspension (so a suspension reaches every instance within
the cache's few seconds, and this one at once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Row, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.errors import AsahiError, NotFound
from asahi.governance import audit
from asahi.governance.budgets.spec import Budget, unique_windows
from asahi.governance.crypto import Sealer
from asahi.governance.keys import KeyRecord
from asahi.store.availability import DatabaseState, DatabaseUnavailable, guarded_read
from asahi.store.lookup_cache import LookupCache
from asahi.store.tables import orgs

_TTL = 5.0
_MAX_CACHED = 100_000


# Rates are stored in 32-bit integer columns (keys) and sealed as JSON (policies); no real limit comes near this.
PerMinute = Annotated[int, Field(ge=1, le=2**31 - 1)]


class OrgPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_models: list[str] | None = Field(None, description="None: every configured model")
    default_model: str | None = None
    baseline_model: str | None = Field(None, description="What savings are measured against under autopilot")
    quality_floor: Annotated[float, Field(ge=0.5, le=1.0)] | None = None
    requests_per_minute: PerMinute | None = None
    tier2_target_error: Annotated[float, Field(gt=0.0, le=0.2)] | None = None
    cascade: bool = Field(False, description="Routed word problems: the cheap model answers first, the strong "
                                             "one only when the cheap answer looks wrong")
    budgets: list[Budget] | None = Field(None, description="The org's spend budgets, one per window")
    alert_webhook_url: str | None = Field(None, max_length=2000, description="Where budget alerts are POSTed")

    @field_validator("budgets")
    @classmethod
    def _one_per_window(cls, value: list[Budget] | None) -> list[Budget] | None:
        return unique_windows(value)

    @field_validator("alert_webhook_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    def allows(self, model: str) -> bool:
        return self.allowed_models is None or model in self.allowed_models


# Audit details keep these fields' names only: a webhook URL can carry a token.
_SECRET_FIELDS = frozenset({"alert_webhook_url"})


def changes(before: OrgPolicy, after: OrgPolicy) -> dict[str, Any]:
    """What an update changed, as the audit log keeps it: field names, and values except secret ones."""
    old, new = before.model_dump(), after.model_dump()
    changed = sorted(k for k in new if new[k] != old[k])
    return {"changed": changed, **{k: new[k] for k in changed if k not in _SECRET_FIELDS}}


def narrowed(policy: OrgPolicy, key: KeyRecord) -> OrgPolicy:
    """The org's policy as one key may use it: the stricter of the two for models and the request rate."""
    update: dict[str, Any] = {}
    if key.allowed_models is not None:
        own = set(key.allowed_models)
        update["allowed_models"] = (list(key.allowed_models) if policy.allowed_models is None
                                    else [m for m in policy.allowed_models if m in own])
    if key.requests_per_minute is not None:
        rpm = policy.requests_per_minute
        update["requests_per_minute"] = key.requests_per_minute if rpm is None else min(rpm, key.requests_per_minute)
    return policy.model_copy(update=update) if update else policy


DEFAULT_POLICY = OrgPolicy()


class OrgSuspended(AsahiError):
    def __init__(self) -> None:
        super().__init__(403, "org_suspended", "This organisation is suspended by the operator; every one of its "
                         "API keys is refused until it is resumed.")


@dataclass(frozen=True, slots=True)
class OrgState:
    """What every request needs of its org: the policy, and whether the operator suspended the org."""

    policy: OrgPolicy
    suspended: bool = False


class PolicyStore:
    """Policies cached for a few seconds; while the database is down an org's last known policy keeps applying,
    and an org never seen gets 503."""

    def __init__(self, engine: AsyncEngine, sealer: Sealer, database: DatabaseState | None = None) -> None:
        self._engine = engine
        self._sealer = sealer
        self._database = database or DatabaseState()
        self._cache: LookupCache[str, OrgState] = LookupCache(_MAX_CACHED)

    async def get(self, org_id: str) -> OrgPolicy:
        return (await self.state(org_id)).policy

    async def state(self, org_id: str) -> OrgState:
        found, state = self._cache.fresh(org_id)
        if found and state is not None:
            return state
        try:
            row = await guarded_read(self._database, lambda: self._row(org_id))
        except DatabaseUnavailable:
            found, stale = self._cache.stale(org_id)
            if found and stale is not None:
                return stale
            raise
        policy = DEFAULT_POLICY
        if row is not None and row[0] is not None:
            policy = self._open(org_id, row[0])
        state = OrgState(policy, suspended=row is not None and row[1] is not None)
        self._cache.put(org_id, state, _TTL)
        return state

    async def _row(self, org_id: str) -> Row[Any, Any] | None:
        async with self._engine.connect() as connection:
            query = select(orgs.c.policy_sealed, orgs.c.suspended_at).where(orgs.c.id == org_id)
            return (await connection.execute(query)).first()

    def forget(self, org_id: str) -> None:
        self._cache.drop(org_id)

    async def put(self, org_id: str, policy: OrgPolicy, actor: str, context: audit.Context | None = None) -> None:
        sealed = self._sealer.seal(orjson.dumps(policy.model_dump()), org_id.encode())
        async with self._engine.begin() as connection:
            row = (await connection.execute(select(orgs.c.policy_sealed).where(orgs.c.id == org_id))).first()
            if row is None:
                raise NotFound(f"Org '{org_id}' does not exist.", code="org_not_found")
            before = DEFAULT_POLICY if row[0] is None else self._open(org_id, row[0])
            await connection.execute(update(orgs).where(orgs.c.id == org_id).values(
                policy_sealed=sealed, policy_key_id=self._sealer.key_id))
            await audit.record(connection, org_id=org_id, actor=actor, action="policy.update",
                               details=changes(before, policy), context=context)
        self._cache.drop(org_id)

    def _open(self, org_id: str, sealed: bytes) -> OrgPolicy:
        return OrgPolicy.model_validate(orjson.loads(self._sealer.open(sealed, org_id.encode())))
