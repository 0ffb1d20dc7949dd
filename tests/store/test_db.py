from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from asahi.store.db import create_engine


async def test_sqlite_connections_use_wal_without_a_disk_wait_per_commit(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'asahi.db'}")
    try:
        async with engine.connect() as connection:
            mode = (await connection.execute(text("PRAGMA journal_mode"))).scalar_one()
            synchronous = (await connection.execute(text("PRAGMA synchronous"))).scalar_one()
            foreign_keys = (await connection.execute(text("PRAGMA foreign_keys"))).scalar_one()
        assert (mode, synchronous, foreign_keys) == ("wal", 1, 1)  # synchronous 1 is NORMAL
    finally:
        await engine.dispose()
