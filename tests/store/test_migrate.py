from __future__ import annotations

import asyncio

from sqlalchemy import inspect

from asahi.store import db
from asahi.store.migrate import migrate
from tests.conftest import SettingsFactory


async def test_concurrent_starters_migrate_once(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    engines = [db.create_engine(db.database_url(settings)) for _ in range(3)]
    try:
        await asyncio.gather(*(migrate(engine) for engine in engines))
        await migrate(engines[0])  # idempotent at head
        async with engines[0].connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"orgs", "api_keys", "usage_records", "audit_log", "alembic_version"} <= tables
    finally:
        for engine in engines:
            await engine.dispose()
