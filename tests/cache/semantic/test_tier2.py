"""Tier 2 through the gateway: hits after the policy has learned, org isolation, persistence, sharing between
instances, feedback, and failures that leave requests uncached instead of failing."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest

from asahi.cache.semantic.tier2 import Tier2
from tests.conftest import Running, SettingsFactory, start

QUESTION = "How do I reset my password?"
PARAPHRASE = "How can I reset my password?"


def body(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "asahi-sim-gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}


def tier2_of(running: Running) -> Tier2:
    tier2 = running.app.state.components.tier2
    assert tier2 is not None
    tier2.cache.verify_sample_rate = 0.0  # no random verification: each decision below is deterministic
    return tier2


def teach(tier2: Tier2, org_id: str) -> None:
    """Labels as feedback would give them: pairs above cosine 0.8 were right, below were wrong."""
    model = tier2.cache.model(org_id)
    rng = random.Random(1)
    for _ in range(400):
        similarity = rng.uniform(0.3, 1.0)
        model.add(similarity, similarity > 0.8)


async def ask(running: Running, key: str, text: str, **extra: Any) -> Any:
    response = await running.client.post("/v1/chat/completions", json=body(text, **extra),
                                         headers={"Authorization": f"Bearer {key}"})
    await tier2_of(running).drain()
    return response


async def test_no_hit_before_the_policy_has_learned_anything(running: Running) -> None:
    org = await running.signup()
    await ask(running, org["api_key"], QUESTION)
    response = await ask(running, org["api_key"], PARAPHRASE)
    assert response.headers["x-asahi-cache"] == "miss"


async def test_a_paraphrase_hits_once_learned_and_reports_its_similarity(running: Running) -> None:
    org = await running.signup()
    teach(tier2_of(running), org["org_id"])
    first = await ask(running, org["api_key"], QUESTION)
    hit = await ask(running, org["api_key"], PARAPHRASE)
    assert hit.headers["x-asahi-cache"].startswith("t2; similarity=0.9")
    assert hit.json()["choices"][0]["message"]["content"] == first.json()["choices"][0]["message"]["content"]
    assert float(hit.headers["x-asahi-cost-usd"]) == 0 and float(hit.headers["x-asahi-saved-usd"]) > 0
    unrelated = await ask(running, org["api_key"], "What is the capital of France?")
    assert unrelated.headers["x-asahi-cache"] == "miss"
    different_system = await running.client.post("/v1/chat/completions", headers={"Authorization": f"Bearer {org['api_key']}"}, json={
        "model": "asahi-sim-gpt-4o-mini",
        "messages": [{"role": "system", "content": "Answer in French."}, {"role": "user", "content": PARAPHRASE}]})
    assert different_system.headers["x-asahi-cache"] == "miss"


async def test_an_answer_longer_than_the_new_max_tokens_is_not_served(running: Running) -> None:
    org = await running.signup()
    teach(tier2_of(running), org["org_id"])
    first = await ask(running, org["api_key"], QUESTION)  # the simulator answers 48 tokens
    assert first.json()["usage"]["completion_tokens"] == 48
    short = await ask(running, org["api_key"], PARAPHRASE, max_tokens=5)
    assert short.headers["x-asahi-cache"] == "miss"
    roomy = await ask(running, org["api_key"], PARAPHRASE, max_tokens=200)
    assert roomy.headers["x-asahi-cache"].startswith("t2")


async def test_infer_reports_tier_2(running: Running) -> None:
    org = await running.signup()
    teach(tier2_of(running), org["org_id"])
    headers = {"Authorization": f"Bearer {org['api_key']}"}
    await running.client.post("/infer", json={"prompt": QUESTION}, headers=headers)
    await tier2_of(running).drain()
    data = (await running.client.post("/infer", json={"prompt": PARAPHRASE}, headers=headers)).json()
    assert data["cache_hit"] is True and data["cache_tier"] == 2 and data["similarity"] > 0.9
    assert data["saving_cause"] == "tier2"


async def test_another_orgs_entries_are_never_candidates(running: Running) -> None:
    a, b = await running.signup(), await running.signup()
    tier2 = tier2_of(running)
    teach(tier2, a["org_id"])
    teach(tier2, b["org_id"])
    await ask(running, a["api_key"], QUESTION)
    response = await ask(running, b["api_key"], PARAPHRASE)
    assert response.headers["x-asahi-cache"] == "miss"


async def test_feedback_labels_a_hit_and_refuses_unknown_or_foreign_ids(running: Running) -> None:
    org, other = await running.signup(), await running.signup()
    teach(tier2_of(running), org["org_id"])
    await ask(running, org["api_key"], QUESTION)
    hit = await ask(running, org["api_key"], PARAPHRASE)
    request_id = hit.headers["x-asahi-request-id"]
    model = tier2_of(running).cache.model(org["org_id"])
    before = model.to_json()
    ok = await running.client.post("/feedback", json={"request_id": request_id, "correct": False},
                                   headers={"Authorization": f"Bearer {org['api_key']}"})
    assert ok.status_code == 202
    assert model.to_json() != before
    foreign = await running.client.post("/feedback", json={"request_id": request_id, "correct": True},
                                        headers={"Authorization": f"Bearer {other['api_key']}"})
    assert foreign.status_code == 404
    bad = await running.client.post("/feedback", json={"request_id": request_id},
                                    headers={"Authorization": f"Bearer {org['api_key']}"})
    assert bad.status_code == 400


async def test_non_text_and_huge_prompts_skip_tier_2(running: Running) -> None:
    org = await running.signup()
    image = [{"type": "text", "text": QUESTION},
             {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]
    response = await running.client.post(
        "/v1/chat/completions", headers={"Authorization": f"Bearer {org['api_key']}"},
        json={"model": "asahi-sim-gpt-4o-mini", "messages": [{"role": "user", "content": image}]})
    assert response.status_code == 200
    huge = await ask(running, org["api_key"], "why " * 5000)
    assert huge.status_code == 200
    assert tier2_of(running).cache.index  # the index exists, yet neither request was stored in it
    assert not tier2_of(running).cache._entries.get(org["org_id"])


@pytest.mark.parametrize("stage", ["search", "confirm"])
async def test_embedder_failure_means_uncached_not_failed(running: Running, stage: str) -> None:
    org = await running.signup()
    tier2 = tier2_of(running)
    teach(tier2, org["org_id"])
    await ask(running, org["api_key"], QUESTION)
    embedder = getattr(tier2.embedder, stage)

    async def broken(texts: list[str]) -> Any:
        raise RuntimeError("model file vanished")

    embedder.embed = broken
    try:
        response = await ask(running, org["api_key"], PARAPHRASE)
    finally:
        del embedder.embed
    assert response.status_code == 200 and response.headers["x-asahi-cache"] == "miss"
    assert running.app.state.components.metrics.cache_errors.labels("t2")._value.get() >= 1


async def test_minilm_runs_only_where_a_hit_is_possible(running: Running) -> None:
    org = await running.signup()
    tier2 = tier2_of(running)
    teach(tier2, org["org_id"])
    confirm = tier2.embedder.confirm
    assert confirm is not None
    calls: list[list[str]] = []
    real = confirm.embed

    async def spy(texts: list[str]) -> Any:
        calls.append(texts)
        return await real(texts)

    confirm.embed = spy  # type: ignore[method-assign]
    try:
        await ask(running, org["api_key"], QUESTION)
        unrelated = await ask(running, org["api_key"], "What is the capital of France?")
        assert unrelated.headers["x-asahi-cache"] == "miss" and calls == []
        hit = await ask(running, org["api_key"], PARAPHRASE)
    finally:
        del confirm.embed  # type: ignore[method-assign]
    assert hit.headers["x-asahi-cache"].startswith("t2")
    assert calls == [[PARAPHRASE, QUESTION]]  # the entry's MiniLM vector was made with the prompt's, once


async def test_entries_of_another_embedder_are_never_loaded(make_settings: SettingsFactory) -> None:
    from sqlalchemy import update

    from asahi.store.tables import semantic_entries

    settings = make_settings()
    first, stop = await start(settings)
    org = await first.signup()
    await ask(first, org["api_key"], QUESTION)
    async with first.app.state.components.engine.begin() as connection:
        changed = await connection.execute(update(semantic_entries).values(embedder="local:all-MiniLM-L6-v2-int8"))
        assert changed.rowcount == 1  # as if stored by a gateway that searched MiniLM's vectors
    await stop()
    second, stop = await start(settings)
    try:
        teach(tier2_of(second), org["org_id"])
        assert not tier2_of(second).cache._entries.get(org["org_id"])
        assert (await ask(second, org["api_key"], PARAPHRASE)).headers["x-asahi-cache"] == "miss"
    finally:
        await stop()


async def test_entries_survive_a_restart(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    first, stop = await start(settings)
    org = await first.signup()
    teach(tier2_of(first), org["org_id"])
    await ask(first, org["api_key"], QUESTION)
    await stop()
    second, stop = await start(settings)
    try:
        teach(tier2_of(second), org["org_id"])
        response = await ask(second, org["api_key"], PARAPHRASE)
        assert response.headers["x-asahi-cache"].startswith("t2")
    finally:
        await stop()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_another_instance_serves_a_new_entry_within_two_seconds(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    one, stop_one = await start(settings)
    two, stop_two = await start(settings)
    try:
        org = await one.signup()
        teach(tier2_of(one), org["org_id"])
        teach(tier2_of(two), org["org_id"])
        await ask(one, org["api_key"], QUESTION)
        started = time.monotonic()
        status = "miss"
        while time.monotonic() - started < 2.0:
            if tier2_of(two).cache._entries.get(org["org_id"]):
                status = (await ask(two, org["api_key"], PARAPHRASE)).headers["x-asahi-cache"]
                break
            await asyncio.sleep(0.05)
        assert status.startswith("t2")
    finally:
        await stop_two()
        await stop_one()


async def test_a_burst_of_misses_is_stored_in_shared_commits(running: Running) -> None:
    from sqlalchemy import event, func, select

    from asahi.store.tables import semantic_entries

    org = await running.signup()
    engine = running.app.state.components.engine
    commits: list[int] = []
    listener = lambda *_: commits.append(1)  # noqa: E731
    event.listen(engine.sync_engine, "commit", listener)
    try:
        await asyncio.gather(*[
            running.client.post("/v1/chat/completions", json=body(f"question number {i} about tides and moons"),
                                headers={"Authorization": f"Bearer {org['api_key']}"}) for i in range(24)])
        await tier2_of(running).drain()
    finally:
        event.remove(engine.sync_engine, "commit", listener)
    async with engine.connect() as connection:
        stored = (await connection.execute(select(func.count()).select_from(semantic_entries))).scalar_one()
    assert stored == 24  # every one committed before its save returned
    assert len(commits) <= 12  # 24 entries and their ledger rows: one commit per miss would be 24 and more
