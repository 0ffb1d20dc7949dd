"""Rotating ASAHI_ENCRYPTION_KEY: every sealed value (org policies, provider credentials) re-sealed with the new
key, in one transaction.

The procedure: set the new key as ASAHI_ENCRYPTION_KEY and the old one as ASAHI_PREVIOUS_ENCRYPTION_KEY (running
instances then open both), run `asahi keys rotate-encryption`, then drop the previous key. Each sealed row carries
the id of the key that sealed it, so a rotation touches only rows not yet on the current key and can be re-run.
"""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.governance import audit
from asahi.governance.credentials import bound
from asahi.governance.crypto import Sealer, embedded_key
from asahi.settings import Settings
from asahi.store.tables import orgs, provider_credentials


def sealer_for(settings: Settings) -> Sealer:
    return Sealer(settings.encryption_key or embedded_key(settings.data_dir), settings.previous_encryption_key)


async def reseal(engine: AsyncEngine, sealer: Sealer, actor: str = "cli") -> int:
    """Re-seal every value not sealed with the current key; how many were."""
    count = 0
    async with engine.begin() as connection:
        policies = (await connection.execute(
            select(orgs.c.id, orgs.c.policy_sealed).where(
                orgs.c.policy_sealed.is_not(None),
                or_(orgs.c.policy_key_id.is_(None), orgs.c.policy_key_id != sealer.key_id)))).all()
        for org_id, sealed in policies:
            own = org_id.encode()
            await connection.execute(update(orgs).where(orgs.c.id == org_id).values(
                policy_sealed=sealer.seal(sealer.open(sealed, own), own), policy_key_id=sealer.key_id))
            count += 1
        credentials = (await connection.execute(
            select(provider_credentials.c.org_id, provider_credentials.c.provider, provider_credentials.c.sealed)
            .where(provider_credentials.c.key_id != sealer.key_id))).all()
        for org_id, provider, sealed in credentials:
            to = bound(org_id, provider)
            await connection.execute(update(provider_credentials).where(
                provider_credentials.c.org_id == org_id, provider_credentials.c.provider == provider,
            ).values(sealed=sealer.seal(sealer.open(sealed, to), to), key_id=sealer.key_id))
            count += 1
        await audit.record(connection, org_id=None, actor=actor, action="encryption.rotate",
                           details={"key_id": sealer.key_id, "resealed": count})
    return count
