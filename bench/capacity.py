"""Capacity figures for docs/operations.md: what one request costs PostgreSQL and Redis, by kind, and what an
instance holds in memory, on real processes.

    .venv/bin/python bench/capacity.py                              # backend operations per request
    .venv/bin/python bench/capacity.py --tier2-entries 100000 --tier2-orgs 1

One `asahi serve` on the simulator (no upstream time), a throwaway PostgreSQL cluster and a throwaway Redis server
of its own, so the counters see nothing else. Each phase starts the gateway, sends its requests (16 at a time),
and stops it gracefully, so every ledger row is committed and every PostgreSQL backend has flushed its statistics;
a phase with no requests is measured the same way and subtracted. Redis: `INFO commandstats` (calls per command).
PostgreSQL: `pg_stat_database` (commits, rows inserted / updated / deleted, rows read).

Memory: RSS of the idle gateway, after the request phases (the confirming MiniLM loaded), and after start-up
with `--tier2-entries` tier 2 entries in the database (realistic sizes: a 300-character prompt, a 1,500-byte
stored answer, a 128-d search vector and a 384-d confirming vector each), spread over `--tier2-orgs` orgs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import numpy as np
import redis as sync_redis
import yaml

from asahi.cache.semantic.policy import OrgModel
from asahi.embeddings.factory import build_embedding

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.faults.harness import GatewayProcess, Postgres, RedisServer  # noqa: E402

ENCRYPTION_KEY = "cd" * 32
MODEL = "asahi-sim-gpt-4o-mini"
QUESTION = "How do I reset my password?"
PARAPHRASE = "How can I reset my password?"
PG_COUNTERS = ("xact_commit", "tup_inserted", "tup_updated", "tup_deleted", "tup_fetched")


def rss_mb(gateway: GatewayProcess) -> float:
    assert gateway.proc is not None
    for line in Path(f"/proc/{gateway.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def pg_counters(url: str) -> dict[str, int]:
    connection = await asyncpg.connect(url)
    try:
        row = await connection.fetchrow(
            f"SELECT {', '.join(PG_COUNTERS)} FROM pg_stat_database WHERE datname = current_database()")
    finally:
        await connection.close()
    assert row is not None
    return {name: int(row[name]) for name in PG_COUNTERS}


async def row_bytes(url: str) -> dict[str, float]:
    """Average stored size of a ledger row and of a tier 2 entry (pg_column_size of the whole row)."""
    connection = await asyncpg.connect(url)
    try:
        return {table: round(float(await connection.fetchval(
            f"SELECT coalesce(avg(pg_column_size(t.*)), 0) FROM {table} t")), 1)
            for table in ("usage_records", "semantic_entries")}
    finally:
        await connection.close()


def redis_calls(url: str) -> dict[str, int]:
    stats = sync_redis.Redis.from_url(url).info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


async def send(url: str, key: str, bodies: list[dict[str, Any]], headers: dict[str, str]) -> dict[str, int]:
    """Every body sent, 16 at a time; returns the count of each x-asahi-cache value (status:<code> on errors)."""
    counts: dict[str, int] = {}
    queue = list(reversed(bodies))

    async def worker(client: httpx.AsyncClient) -> None:
        while queue:
            response = await client.post("/v1/chat/completions", json=queue.pop())
            label = response.headers.get("x-asahi-cache", "").split(";")[0] if response.status_code == 200 \
                else f"status:{response.status_code}"
            counts[label] = counts.get(label, 0) + 1

    async with httpx.AsyncClient(base_url=url, timeout=60,
                                 headers={"Authorization": f"Bearer {key}", **headers}) as client:
        await asyncio.gather(*(worker(client) for _ in range(16)))
    return counts


def chat(text: str) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}]}


class Bench:
    def __init__(self, folder: Path) -> None:
        self.pg = Postgres()
        self.redis = RedisServer()
        overlay = folder / "asahi.yaml"
        overlay.write_text(yaml.safe_dump({"cache": {"tier2": {"verify_sample_rate": 0.0}}}))
        self.gateway = GatewayProcess({"DATABASE_URL": self.pg.url, "REDIS_URL": self.redis.url,
                                       "ASAHI_ENCRYPTION_KEY": ENCRYPTION_KEY, "ASAHI_CONFIG": str(overlay)},
                                      folder / "data")

    def close(self) -> None:
        self.gateway.stop()
        self.redis.close()
        self.pg.close()

    def phase(self, run: Callable[[], dict[str, int]]) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        """(cache statuses, Redis calls, PostgreSQL counters) of one start, run, graceful stop."""
        sync_redis.Redis.from_url(self.redis.url).config_resetstat()
        before = asyncio.run(pg_counters(self.pg.url))
        self.gateway.start()
        statuses = run()
        self.gateway.stop()
        time.sleep(1.5)  # the backends' statistics land when they exit
        after = asyncio.run(pg_counters(self.pg.url))
        return statuses, redis_calls(self.redis.url), {k: after[k] - before[k] for k in PG_COUNTERS}


def per_request(phase: tuple[dict[str, int], dict[str, int], dict[str, int]],
                idle: tuple[dict[str, int], dict[str, int], dict[str, int]], requests: int) -> dict[str, Any]:
    statuses, calls, pg = phase
    _, idle_calls, idle_pg = idle
    redis_by_command = {name: round((n - idle_calls.get(name, 0)) / requests, 3) for name, n in calls.items()
                        if n - idle_calls.get(name, 0) > 0 and name not in ("info", "config|resetstat")}
    return {
        "statuses": statuses,
        "redis_calls_per_request": round(sum(redis_by_command.values()), 2),
        "redis_by_command": dict(sorted(redis_by_command.items(), key=lambda kv: -kv[1])),
        "postgres_per_request": {k: round((v - idle_pg[k]) / requests, 3) for k, v in pg.items()},
    }


async def seed_tier2_model(url: str, org_id: str) -> None:
    """The org's tier 2 policy as if it had learned (as the tier 2 tests teach it), so paraphrases can hit."""
    model, rng = OrgModel(), random.Random(1)
    for _ in range(400):
        similarity = rng.uniform(0.3, 1.0)
        model.add(similarity, similarity > 0.8)
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "INSERT INTO semantic_org_models (org_id, embedder, state, updated_at) VALUES ($1, $2, $3, now())",
            org_id, build_embedding().name, json.dumps(model.to_json()))
    finally:
        await connection.close()


async def seed_entries(url: str, count: int, orgs: int) -> None:
    rng = np.random.default_rng(1)
    embedder = build_embedding().name
    now = datetime.now(UTC)
    org_ids = [uuid.uuid4().hex for _ in range(orgs)]
    answer = "x" * 1000
    payload = json.dumps({"answer": "y" * 1400}).encode()
    connection = await asyncpg.connect(url)
    try:
        for start in range(0, count, 10_000):
            rows = []
            for n in range(start, min(count, start + 10_000)):
                search = rng.standard_normal(128).astype(np.float32)
                confirm = rng.standard_normal(384).astype(np.float32)
                rows.append((uuid.uuid4().hex, org_ids[n % orgs], "ctx", embedder,
                             (search / np.linalg.norm(search)).tobytes(), (confirm / np.linalg.norm(confirm)).tobytes(),
                             f"prompt {n} " + "p" * 290, payload, MODEL,
                             json.dumps({"answer_text": answer, "state": None}), now, now + timedelta(days=7)))
            await connection.copy_records_to_table(
                "semantic_entries", records=rows,
                columns=["id", "org_id", "context_key", "embedder", "vector", "confirm_vector", "prompt", "response",
                         "model", "state", "created_at", "expires_at"])
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per phase")
    parser.add_argument("--tier2-entries", type=int, default=0, help="also measure memory with this many entries")
    parser.add_argument("--tier2-orgs", type=int, default=1)
    args = parser.parse_args()
    n = args.requests
    with tempfile.TemporaryDirectory(prefix="asahi-capacity-") as tmp:
        bench = Bench(Path(tmp))
        try:
            report: dict[str, Any] = {"requests_per_phase": n}
            bench.gateway.start()
            signed = httpx.post(bench.gateway.url + "/signup", json={"org_name": "capacity", "email": "o@example.com"},
                                timeout=30).json()
            report["idle_rss_mb"] = round(rss_mb(bench.gateway), 1)
            bench.gateway.stop()
            asyncio.run(seed_tier2_model(bench.pg.url, signed["org_id"]))
            url, key = bench.gateway.url, signed["api_key"]
            idle = bench.phase(lambda: {})
            misses = bench.phase(lambda: asyncio.run(send(url, key, [chat(f"question {i} {uuid.uuid4().hex}")
                                                                      for i in range(n)], {})))
            hits = bench.phase(lambda: asyncio.run(send(url, key, [chat("What is prompt caching?")] * (n + 1), {})))

            def tier2() -> dict[str, int]:
                asyncio.run(send(url, key, [chat(QUESTION)], {}))
                time.sleep(0.5)  # the entry is stored off the response path
                statuses = asyncio.run(send(url, key, [chat(PARAPHRASE)] * n, {"x-asahi-cache": "no-store"}))
                report["rss_after_requests_mb"] = round(rss_mb(bench.gateway), 1)
                return statuses

            tier2_hits = bench.phase(tier2)
            report["miss"] = per_request(misses, idle, n)
            report["tier1_hit"] = per_request(hits, idle, n + 1)
            report["tier2_hit"] = per_request(tier2_hits, idle, n + 1)
            report["row_bytes"] = asyncio.run(row_bytes(bench.pg.url))
            client = sync_redis.Redis.from_url(bench.redis.url)
            entries = [k for k in client.scan_iter("asahi:t1:*", count=1000) if k.count(b":") == 3]
            report["redis_tier1"] = {"entries": len(entries), "bytes_per_entry": round(
                sum(client.memory_usage(k) or 0 for k in entries) / max(1, len(entries)))}
            if args.tier2_entries:
                bench.gateway.start()
                before = rss_mb(bench.gateway)
                bench.gateway.stop()
                asyncio.run(seed_entries(bench.pg.url, args.tier2_entries, args.tier2_orgs))
                started = time.monotonic()
                bench.gateway.start(timeout=600)
                report["tier2_memory"] = {
                    "entries": args.tier2_entries, "orgs": args.tier2_orgs,
                    "start_seconds": round(time.monotonic() - started, 1),
                    "rss_without_mb": round(before, 1), "rss_with_mb": round(rss_mb(bench.gateway), 1),
                    "bytes_per_entry": round((rss_mb(bench.gateway) - before) * 1024 * 1024 / args.tier2_entries),
                }
                bench.gateway.stop()
            print(json.dumps(report, indent=2))
        finally:
            bench.close()


if __name__ == "__main__":
    main()
