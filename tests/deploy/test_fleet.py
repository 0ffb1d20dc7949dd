"""Scaling out is a supported shape: three `asahi serve` instances behind HAProxy on one PostgreSQL and one Redis
(the first with two worker processes).

A key made on one works on all, tier 1 and tier 2 answer across instances, a revocation reaches every instance
within a second, an org's rate limit holds for the fleet, and when one instance is killed mid-load the balancer
routes around it and every answered request keeps its ledger row (the killed instance's spool is drained when it
comes back, as a restarted pod on its volume).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import redis as sync_redis
import yaml

from asahi.cache.semantic.policy import OrgModel
from asahi.embeddings.factory import build_embedding
from asahi.governance import accounts
from asahi.settings import load_settings
from asahi.store import db
from asahi.store.migrate import migrate
from asahi.store.tables import semantic_org_models
from tests.conftest import ENCRYPTION_KEY, POSTGRES_URL, REDIS_URL
from tests.deploy.fleet import Balancer, Instance

MODEL = "asahi-sim-gpt-4o-mini"
QUESTION = "How do I reset my password?"
PARAPHRASE = "How can I reset my password?"
ADMIN_SECRET = "fleet-admin-secret"


@dataclass
class Fleet:
    instances: list[Instance]
    balancer: Balancer
    database: str
    tier2_key: str


def chat(text: str) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}]}


def post(url: str, key: str, text: str, **headers: str) -> httpx.Response:
    return httpx.post(url + "/v1/chat/completions", json=chat(text), timeout=30,
                      headers={"Authorization": f"Bearer {key}", **headers})


def signup(url: str) -> dict[str, str]:
    response = httpx.post(url + "/signup", json={"org_name": f"fleet-{uuid.uuid4().hex[:8]}",
                                                 "email": "ops@example.com"}, timeout=30)
    assert response.status_code == 201, response.text
    data: dict[str, str] = response.json()
    return data


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(POSTGRES_URL)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def _seed_tier2_org(env: dict[str, str]) -> str:
    """An org whose tier 2 policy has already learned (as `teach` in the tier 2 tests), stored before the fleet
    starts so every instance loads it: the fleet's own traffic could take a while to teach it."""
    settings = load_settings(env)
    engine = db.create_engine(db.database_url(settings))
    try:
        await migrate(engine)
        org, issued = await accounts.create_org_with_key(engine, "fleet-tier2", "ops@example.com", actor="test")
        model, rng = OrgModel(), random.Random(1)
        for _ in range(400):
            similarity = rng.uniform(0.3, 1.0)
            model.add(similarity, similarity > 0.8)
        async with engine.begin() as connection:
            await connection.execute(semantic_org_models.insert().values(
                org_id=org.id, embedder=build_embedding().name, state=model.to_json(),
                updated_at=org.created_at))
        return issued.plaintext
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    name = f"asahi_fleet_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    database = f"{POSTGRES_URL.rpartition('/')[0]}/{name}"
    sync_redis.Redis.from_url(REDIS_URL).flushdb()
    folder = tmp_path_factory.mktemp("fleet")
    overlay = folder / "asahi.yaml"
    overlay.write_text(yaml.safe_dump({
        "cache": {"tier2": {"verify_sample_rate": 0.0}},  # every tier 2 decision below is deterministic
        "simulator": {"latency_ms": 20},  # requests are in flight when an instance is killed
    }))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ASAHI_", "OPENAI_", "ANTHROPIC_", "COHERE_", "PINECONE_"))
           and k not in ("DATABASE_URL", "REDIS_URL", "PORT", "HOST", "WEB_CONCURRENCY")}
    env |= {"DATABASE_URL": database, "REDIS_URL": REDIS_URL, "ASAHI_ENCRYPTION_KEY": ENCRYPTION_KEY,
            "ASAHI_ADMIN_SECRET": ADMIN_SECRET, "ASAHI_CONFIG": str(overlay), "ASAHI_LOG_LEVEL": "WARNING",
            "ASAHI_IN_CONTAINER": "0"}
    tier2_key = asyncio.run(_seed_tier2_org(env))
    # The first instance runs two worker processes on its port: workers are instances of their own.
    instances = [Instance(f"a{n}", env | ({"WEB_CONCURRENCY": "2"} if n == 1 else {}), folder / f"a{n}")
                 for n in (1, 2, 3)]
    balancer: Balancer | None = None
    try:
        for instance in instances:
            instance.launch()
        for instance in instances:
            instance.wait_ready()
        balancer = Balancer(instances, folder)
        yield Fleet(instances, balancer, database, tier2_key)
    finally:
        if balancer is not None:
            balancer.close()
        for instance in instances:
            instance.stop()
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_a_key_made_through_the_balancer_works_on_every_instance(fleet: Fleet) -> None:
    org = signup(fleet.balancer.url)
    for instance in fleet.instances:
        answer = post(instance.url, org["api_key"], f"hello from {instance.name}")
        assert answer.status_code == 200, (instance.name, answer.text)


def wait_for_cache(url: str, key: str, text: str, tier: str, timeout: float = 3.0) -> str:
    """The cache status of `text` on `url` once it is `tier` (asked with no-store, so asking never fills it)."""
    deadline = time.monotonic() + timeout
    while True:
        status = post(url, key, text, **{"x-asahi-cache": "no-store"}).headers["x-asahi-cache"]
        if status.startswith(tier) or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def test_tier_1_and_tier_2_answer_across_instances(fleet: Fleet) -> None:
    one, two, three = fleet.instances
    org = signup(fleet.balancer.url)
    assert post(one.url, org["api_key"], "What is prompt caching?").headers["x-asahi-cache"] == "miss"
    assert wait_for_cache(two.url, org["api_key"], "What is prompt caching?", "t1") == "t1"
    assert wait_for_cache(three.url, org["api_key"], "What is prompt caching?", "t1") == "t1"

    assert post(one.url, fleet.tier2_key, QUESTION).headers["x-asahi-cache"] == "miss"
    assert wait_for_cache(two.url, fleet.tier2_key, PARAPHRASE, "t2").startswith("t2; similarity=0.9")
    assert wait_for_cache(three.url, fleet.tier2_key, PARAPHRASE, "t2").startswith("t2")


def test_a_revocation_on_one_instance_refuses_the_key_on_all_within_a_second(fleet: Fleet) -> None:
    one = fleet.instances[0]
    org = signup(fleet.balancer.url)
    made = httpx.post(one.url + "/governance/api-keys", json={"name": "short-lived", "scopes": ["infer"]},
                      headers={"Authorization": f"Bearer {org['api_key']}"}, timeout=10)
    assert made.status_code == 201, made.text
    key, key_id = made.json()["api_key"], made.json()["id"]
    for instance in fleet.instances:  # every instance has verified and cached the key
        assert post(instance.url, key, "before").status_code == 200
    revoked = httpx.delete(f"{one.url}/governance/api-keys/{key_id}",
                           headers={"Authorization": f"Bearer {org['api_key']}"}, timeout=10)
    assert revoked.status_code == 200, revoked.text
    started = time.monotonic()
    pending = list(fleet.instances)
    while pending and time.monotonic() - started < 1.0:
        pending = [i for i in pending if post(i.url, key, "after").status_code != 401]
    assert not pending, f"still accepted after 1 s on {[i.name for i in pending]}"


async def _burst(urls: list[str], key: str, count: int) -> list[int]:
    async with httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {key}"}) as client:
        answers = await asyncio.gather(*(
            client.post(urls[n % len(urls)] + "/v1/chat/completions", json=chat(f"burst {n}"))
            for n in range(count)))
    return [a.status_code for a in answers]


def test_an_org_rate_limit_holds_for_the_fleet(fleet: Fleet) -> None:
    org = signup(fleet.balancer.url)
    limit = 20
    policy = httpx.put(fleet.instances[0].url + "/governance/policy", json={"requests_per_minute": limit},
                       headers={"Authorization": f"Bearer {org['api_key']}"}, timeout=10)
    assert policy.status_code == 200, policy.text
    statuses = asyncio.run(_burst([i.url for i in fleet.instances], org["api_key"], 3 * limit))
    accepted = statuses.count(200)
    # Each instance alone would accept `limit`; the fleet accepts `limit` in all (one more at most when the
    # burst straddles the minute, as the sliding window weighs the previous minute down).
    assert limit <= accepted <= limit + 1 and statuses.count(429) == len(statuses) - accepted


async def _load(url: str, key: str, stop: asyncio.Event,
                answers: list[tuple[int, str | None, float]], clients: int) -> None:
    counter = 0

    async def client() -> None:
        nonlocal counter
        async with httpx.AsyncClient(base_url=url, timeout=10, headers={"Authorization": f"Bearer {key}"}) as http:
            while not stop.is_set():
                counter += 1
                try:
                    response = await http.post("/v1/chat/completions", json=chat(f"load {counter}"))
                    answers.append((response.status_code, response.headers.get("x-asahi-request-id"),
                                    time.monotonic()))
                except httpx.HTTPError:
                    answers.append((0, None, time.monotonic()))

    await asyncio.gather(*(client() for _ in range(clients)))


async def _kill_mid_load(fleet: Fleet, key: str, clients: int) -> tuple[list[tuple[int, str | None, float]], float]:
    answers: list[tuple[int, str | None, float]] = []
    stop = asyncio.Event()
    load = asyncio.create_task(_load(fleet.balancer.url, key, stop, answers, clients))
    await asyncio.sleep(2.0)
    fleet.instances[2].kill()
    killed_at = time.monotonic()
    await asyncio.sleep(3.0)
    stop.set()
    await load
    return answers, killed_at


async def _ledger_ids(database: str, org_id: str) -> set[str]:
    connection = await asyncpg.connect(database)
    try:
        rows = await connection.fetch("SELECT request_id FROM usage_records WHERE org_id = $1", org_id)
    finally:
        await connection.close()
    return {r["request_id"] for r in rows}


def test_an_instance_killed_mid_load_loses_no_answered_requests_ledger_row(fleet: Fleet) -> None:
    org = signup(fleet.balancer.url)
    clients = 8
    answers, killed_at = asyncio.run(_kill_mid_load(fleet, org["api_key"], clients))
    answered = {rid for status, rid, _ in answers if status == 200 and rid}
    failed = [status for status, _, _ in answers if status != 200]
    after = [status for status, _, at in answers if at > killed_at + 1.0]
    assert len(answered) > 100
    assert len(failed) <= clients, failed  # at most the requests in flight on the killed instance
    assert after and all(status == 200 for status in after)  # the balancer routes around it

    killed = fleet.instances[2]
    killed.launch()  # as its pod restarts on the same volume: the spool it left is drained first
    killed.wait_ready()
    deadline = time.monotonic() + 20
    while (missing := answered - asyncio.run(_ledger_ids(fleet.database, org["org_id"]))) and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    assert not missing, f"{len(missing)} answered requests have no ledger row"

