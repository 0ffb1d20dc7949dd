from __future__ import annotations

import asyncio
import subprocess
import sys

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from asahi.store import db
from asahi.store.migrate import HEAD, MIGRATIONS, migrate
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


def test_head_names_the_newest_migration() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_heads() == [HEAD]


async def test_a_start_at_head_never_imports_alembic(make_settings: SettingsFactory) -> None:
    url = db.database_url(make_settings())
    engine = db.create_engine(url)
    try:
        await migrate(engine)
        code = (
            "import asyncio, sys\n"
            "from asahi.store.db import create_engine\n"
            "from asahi.store.migrate import migrate\n"
            "async def main():\n"
            f"    engine = create_engine({url!r})\n"
            "    await migrate(engine)\n"
            "    await engine.dispose()\n"
            "asyncio.run(main())\n"
            "print('alembic' in sys.modules)\n"
        )
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "False"
    finally:
        await engine.dispose()
