from __future__ import annotations

from sqlalchemy import select

from asahi.governance import accounts
from asahi.governance.crypto import Sealer
from asahi.governance.policy import DEFAULT_POLICY, OrgPolicy, PolicyStore
from asahi.store import db
from asahi.store.migrate import migrate
from asahi.store.tables import audit_log, orgs
from tests.conftest import SettingsFactory


async def test_a_policy_is_stored_sealed_and_read_back(make_settings: SettingsFactory) -> None:
    engine = db.create_engine(db.database_url(make_settings()))
    try:
        await migrate(engine)
        org, _ = await accounts.create_org_with_key(engine, "Policy Org", "a@example.com", actor="test")
        store = PolicyStore(engine, Sealer(b"s" * 32))
        assert await store.get(org.id) == DEFAULT_POLICY
        policy = OrgPolicy(allowed_models=["gpt-4o-mini"], requests_per_minute=10)
        await store.put(org.id, policy, actor="key:1")
        assert await PolicyStore(engine, Sealer(b"s" * 32)).get(org.id) == policy
        async with engine.connect() as connection:
            sealed = (await connection.execute(select(orgs.c.policy_sealed).where(orgs.c.id == org.id))).scalar()
            actions = (await connection.execute(select(audit_log.c.action))).scalars().all()
        assert sealed is not None and b"gpt-4o-mini" not in sealed
        assert "policy.update" in actions
    finally:
        await engine.dispose()


def test_allowed_models_none_allows_everything() -> None:
    assert OrgPolicy().allows("anything")
    assert not OrgPolicy(allowed_models=["a"]).allows("b")
