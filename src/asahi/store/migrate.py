"""Run the Alembic migrations to head, safely when several instances start at once.

PostgreSQL: a transaction-scoped advisory lock serialises concurrent starters; the second one finds the schema
already at head and does nothing. SQLite: an exclusive file lock beside the database does the same.

Most starts find the schema at head already. One query says so, and then Alembic is never imported: it would
stay resident (about 10 MB) in a process that has no further use for it.
"""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.store.db import sqlite_path

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
HEAD = "0008"  # the newest revision under migrations/versions; a test keeps the two in step
_LOCK_ID = 0x61736168  # "asah": any constant shared by every instance


def _alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    from alembic import command

    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
    command.upgrade(_alembic_config(connection), "head")


@contextmanager
def _file_lock(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    with open(path.with_suffix(".migrate.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


async def _at_head(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as connection:
            versions = (await connection.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    except DBAPIError:  # no version table yet: a new database
        return False
    return versions == [HEAD]


async def migrate(engine: AsyncEngine) -> None:
    if await _at_head(engine):
        return
    path = sqlite_path(str(engine.url))
    lock = _file_lock(path)
    await asyncio.to_thread(lock.__enter__)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade)
    finally:
        lock.__exit__(None, None, None)
