"""Test fixtures: every app test runs twice, on the embedded defaults (SQLite + memory) and on real
PostgreSQL + Redis. The servers come from ASAHI_TEST_POSTGRES_URL / ASAHI_TEST_REDIS_URL (set by
`scripts/test-services.sh`, which `make test` runs) or the local defaults; an unreachable server fails the run
instead of skipping its tests.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis as sync_redis
from fastapi import FastAPI

from asahi.app import create_app
from asahi.settings import Settings, load_settings
from tests.fakes.anthropic_server import FakeAnthropic, FakeAnthropicEndpoints
from tests.fakes.openai_server import FakeOpenAI, FakeOpenAIEndpoints

POSTGRES_URL = os.environ.get("ASAHI_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("ASAHI_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ENCRYPTION_KEY = "ab" * 32


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(POSTGRES_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh database for this test run on the PostgreSQL server, dropped afterwards."""
    name = f"asahi_test_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is required for these tests: {exc}")
    base, _, _ = POSTGRES_URL.rpartition("/")
    yield f"{base}/{name}"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def redis_url() -> str:
    """The test Redis database, emptied before each test."""
    client = sync_redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
    except sync_redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is required for these tests: {exc}")
    finally:
        client.close()
    return REDIS_URL


async def _truncate(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        )
        if tables:
            names = ", ".join(f'"{t["tablename"]}"' for t in tables)
            await connection.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


SettingsFactory = Callable[..., Settings]


@pytest.fixture(params=["embedded", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_settings(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> SettingsFactory:
    """Build Settings for the current backend; keyword arguments add or override environment variables."""
    env: dict[str, str] = {"ASAHI_DATA_DIR": str(tmp_path / "data"), "ASAHI_LOG_LEVEL": "WARNING"}
    if backend == "postgres":
        database = request.getfixturevalue("postgres_database")
        asyncio.run(_truncate(database))
        env |= {
            "DATABASE_URL": database,
            "REDIS_URL": request.getfixturevalue("redis_url"),
            "ASAHI_ENCRYPTION_KEY": ENCRYPTION_KEY,
        }

    def factory(**overrides: str) -> Settings:
        return load_settings({**env, **overrides})

    return factory


class Running:
    """An app with its lifespan entered and an HTTP client bound to it."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client

    async def signup(self, org_name: str | None = None) -> dict[str, str]:
        name = org_name or f"org-{secrets.token_hex(4)}"
        response = await self.client.post("/signup", json={"org_name": name, "email": "owner@example.com"})
        assert response.status_code == 201, response.text
        data: dict[str, str] = response.json()
        return data


async def start(settings: Settings) -> tuple[Running, Callable[[], Awaitable[None]]]:
    app = create_app(settings)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://asahi.test")

    async def stop() -> None:
        await client.aclose()
        await lifespan.__aexit__(None, None, None)

    return Running(app, client), stop


@pytest.fixture
async def running(make_settings: SettingsFactory) -> AsyncIterator[Running]:
    instance, stop = await start(make_settings(ASAHI_ADMIN_SECRET="test-admin-secret"))
    try:
        yield instance
    finally:
        await stop()


@pytest.fixture(scope="session")
def openai_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAIEndpoints() as server:
        yield server


@pytest.fixture(scope="session")
def anthropic_server() -> Iterator[FakeAnthropic]:
    with FakeAnthropicEndpoints() as server:
        yield server


@pytest.fixture
def fake_openai(openai_server: FakeOpenAI) -> FakeOpenAI:
    """The fake OpenAI server, started once per run, its script and records reset for each test."""
    openai_server.reset()
    return openai_server


@pytest.fixture
def fake_anthropic(anthropic_server: FakeAnthropic) -> FakeAnthropic:
    anthropic_server.reset()
    return anthropic_server
