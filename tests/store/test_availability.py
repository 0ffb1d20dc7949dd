"""Telling a database outage from a value the database refused, on real PostgreSQL errors: the first degrades the
gateway, the second is the client's input and must never mark the database down."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.settings import normalise_database_url
from asahi.store.availability import is_bad_value, is_outage
from asahi.store.db import create_engine
from tests.faults.harness import free_port


@pytest.fixture
async def engine(postgres_database: str) -> AsyncIterator[AsyncEngine]:
    created = create_engine(normalise_database_url(postgres_database))
    yield created
    await created.dispose()


async def _error(engine: AsyncEngine, sql: str, **params: Any) -> BaseException:
    try:
        async with engine.connect() as connection:
            await connection.execute(text(sql), params)
    except Exception as exc:  # noqa: BLE001  # the error itself is what is examined
        return exc
    raise AssertionError("the statement succeeded")


@pytest.mark.parametrize("sql,params", [
    ("SELECT CAST(:v AS text)", {"v": "nul\x00inside"}),  # refused by the server (SQLSTATE 22021)
    ("SELECT CAST(:v AS integer)", {"v": 3_000_000_000}),  # refused by asyncpg before sending (int32)
    ("SELECT CAST(:v AS timestamptz)", {"v": "294277-01-01 00:00:00+00"}),  # past PostgreSQL's range (22008)
])
async def test_values_the_database_refuses_are_not_an_outage(engine: AsyncEngine, sql: str,
                                                              params: dict[str, Any]) -> None:
    error = await _error(engine, sql, **params)
    assert is_bad_value(error)
    assert not is_outage(error)


async def test_an_unreachable_server_is_an_outage() -> None:
    dead = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/test")
    try:
        error = await _error(dead, "SELECT 1")
    finally:
        await dead.dispose()
    assert is_outage(error)
    assert not is_bad_value(error)


async def test_a_wrong_statement_is_neither(engine: AsyncEngine) -> None:
    error = await _error(engine, "SELECT no_such_column FROM no_such_table")
    assert not is_outage(error) and not is_bad_value(error)
