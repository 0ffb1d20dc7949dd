from __future__ import annotations

import pytest

from asahi.errors import Conflict, NotFound
from asahi.governance import accounts
from asahi.store import db
from asahi.store.migrate import migrate
from tests.conftest import SettingsFactory


async def test_org_names_are_unique_ignoring_case_and_keys_stay_in_their_org(make_settings: SettingsFactory) -> None:
    engine = db.create_engine(db.database_url(make_settings()))
    try:
        await migrate(engine)
        acme, first = await accounts.create_org_with_key(engine, "Acme", "a@example.com", actor="test")
        with pytest.raises(Conflict):
            await accounts.create_org_with_key(engine, "ACME", "b@example.com", actor="test")
        other, _ = await accounts.create_org_with_key(engine, "Other", "c@example.com", actor="test")
        with pytest.raises(NotFound):
            await accounts.revoke_key(engine, other.id, first.record.id, actor="test")
        revoked = await accounts.revoke_key(engine, acme.id, first.record.id, actor="test")
        assert revoked.revoked_at is not None
        found = await accounts.find_key(engine, first.record.prefix)
        assert found is not None and found[0].revoked_at is not None
        assert [k.id for k in await accounts.list_keys(engine, other.id)] != [first.record.id]
    finally:
        await engine.dispose()
