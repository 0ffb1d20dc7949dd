"""Each org's own provider credentials (BYOK): stored sealed, never returned, used for that org's calls.

A credential is sealed with AES-256-GCM and bound to its org and provider (a row copied to another org or
provider fails to open), with the id of the key that sealed it so a rotation knows what to re-seal. Reading one
back is only for the request path; the API shows the last four characters. Lookups are cached for a few seconds
per org, like policies: a change reaches this instance at once and the others within the cache's TTL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import Row, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.errors import NotFound
from asahi.governance import audit
from asahi.governance.crypto import Sealer
from asahi.store.availability import DatabaseState, DatabaseUnavailable, guarded_read
from asahi.store.lookup_cache import LookupCache
from asahi.store.tables import orgs, provider_credentials

_TTL = 5.0
_MAX_CACHED = 100_000
_SHOWN = 4
NO_CREDENTIALS: MappingProxyType[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class StoredCredential:
    provider: str
    masked: str  # "…" and the last characters: enough to tell two keys apart, nothing to use
    key_id: str
    updated_at: datetime


def mask(secret: str) -> str:
    return "…" + secret[-_SHOWN:] if len(secret) > 2 * _SHOWN else "…"


def bound(org_id: str, provider: str) -> bytes:
    """What a credential's seal is bound to: moved to another org or provider, it no longer opens."""
    return f"{org_id}\x1f{provider}".encode()


class CredentialStore:
    def __init__(self, engine: AsyncEngine, sealer: Sealer, database: DatabaseState | None = None) -> None:
        self._engine = engine
        self._sealer = sealer
        self._database = database or DatabaseState()
        self._cache: LookupCache[str, MappingProxyType[str, str]] = LookupCache(_MAX_CACHED)

    async def for_org(self, org_id: str) -> MappingProxyType[str, str]:
        """Provider name -> the org's own credential; empty when it uses the operator's everywhere."""
        found, cached = self._cache.fresh(org_id)
        if found and cached is not None:
            return cached
        try:
            rows = await guarded_read(self._database, lambda: self._sealed(org_id))
        except DatabaseUnavailable:
            found, stale = self._cache.stale(org_id)
            if found and stale is not None:
                return stale
            raise
        opened = MappingProxyType({
            provider: self._sealer.open(sealed, bound(org_id, provider)).decode() for provider, sealed in rows
        }) if rows else NO_CREDENTIALS
        self._cache.put(org_id, opened, _TTL)
        return opened

    async def _sealed(self, org_id: str) -> Sequence[Row[Any, Any]]:
        async with self._engine.connect() as connection:
            return (await connection.execute(
                select(provider_credentials.c.provider, provider_credentials.c.sealed)
                .where(provider_credentials.c.org_id == org_id))).all()

    async def put(self, org_id: str, provider: str, secret: str, actor: str, context: audit.Context | None = None
                  ) -> StoredCredential:
        now = datetime.now(UTC)
        values = {"org_id": org_id, "provider": provider, "key_id": self._sealer.key_id, "suffix": mask(secret),
                  "sealed": self._sealer.seal(secret.encode(), bound(org_id, provider)), "updated_at": now}
        insert = sqlite_insert if self._engine.dialect.name == "sqlite" else pg_insert
        async with self._engine.begin() as connection:
            if (await connection.execute(select(orgs.c.id).where(orgs.c.id == org_id))).first() is None:
                raise NotFound(f"Org '{org_id}' does not exist.", code="org_not_found")
            statement = insert(provider_credentials).values(**values)
            await connection.execute(statement.on_conflict_do_update(
                index_elements=["org_id", "provider"],
                set_={k: values[k] for k in ("sealed", "key_id", "suffix", "updated_at")}))
            await audit.record(connection, org_id=org_id, actor=actor, action="provider_key.set", target=provider,
                               details={"provider": provider, "masked": values["suffix"]}, context=context)
        self._cache.drop(org_id)
        return StoredCredential(provider, str(values["suffix"]), self._sealer.key_id, now)

    async def remove(self, org_id: str, provider: str, actor: str, context: audit.Context | None = None) -> None:
        async with self._engine.begin() as connection:
            result = await connection.execute(delete(provider_credentials).where(
                provider_credentials.c.org_id == org_id, provider_credentials.c.provider == provider))
            if result.rowcount == 0:
                raise NotFound(f"No credential for provider '{provider}' in this org.", code="credential_not_found")
            await audit.record(connection, org_id=org_id, actor=actor, action="provider_key.delete", target=provider,
                               details={"provider": provider}, context=context)
        self._cache.drop(org_id)

    async def listed(self, org_id: str) -> list[StoredCredential]:
        async with self._engine.connect() as connection:
            rows = (await connection.execute(
                select(provider_credentials).where(provider_credentials.c.org_id == org_id)
                .order_by(provider_credentials.c.provider))).all()
        return [StoredCredential(r.provider, r.suffix, r.key_id,
                                 r.updated_at if r.updated_at.tzinfo else r.updated_at.replace(tzinfo=UTC))
                for r in rows]
