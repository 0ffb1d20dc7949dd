"""bench/replay.py: workloads read from generated files (never the real data sets), the split by cause, one run."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from asahi.routing.catalog import Catalog
from asahi.settings import DEFAULT_CONFIG

BENCH = Path(__file__).resolve().parents[2] / "bench" / "replay.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("replay", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


def make_data(folder: Path) -> Path:
    (folder / "sharegpt_prompts").mkdir(parents=True)
    (folder / "arena_hard_prompts").mkdir()
    turns = [("a", 1, "Second question about the contract. " * 20), ("a", 0, "Here is my contract: " + "clause " * 900),
             ("a", 2, "   "), ("b", 0, "hello"), ("c", 0, "Summarise this. " + "text " * 1200),
             ("c", 1, "Shorter, please.")]
    (folder / "sharegpt_prompts" / "dev.jsonl").write_text("".join(
        json.dumps({"conversation_id": c, "segment": 0, "turn": t, "is_conversation_start": t == 0, "text": x}) + "\n"
        for c, t, x in turns))
    (folder / "arena_hard_prompts" / "dev.jsonl").write_text("".join(
        json.dumps({"uid": str(i), "version": "v0.1", "category": "c", "topic": "t", "prompt": f"Prove {i}."}) + "\n"
        for i in range(3)))
    return folder


def test_conversations_come_in_turn_order_without_empty_turns(tmp_path: Path) -> None:
    replay = load_bench()
    data = make_data(tmp_path)
    conversations = replay.sharegpt_conversations(data, count=10, seed=0, max_turns=None)
    by_start = {c[0][:5]: c for c in conversations}
    assert sorted(map(len, conversations)) == [1, 2, 2]
    assert by_start["Here "][1].startswith("Second question")
    assert replay.sharegpt_conversations(data, count=2, seed=0, max_turns=1) == replay.sharegpt_conversations(
        data, count=2, seed=0, max_turns=1)
    assert replay.arena_prompts(data, 2) == [["Prove 0."], ["Prove 1."]]


def row(**fields: Any) -> dict[str, Any]:
    return {"cache_tier": 0, "input_tokens": 10_000, "output_tokens": 100, "cached_input_tokens": 0} | fields


def test_the_causes_add_up_to_the_net_saving() -> None:
    replay = load_bench()
    catalog = Catalog.from_config(yaml.safe_load(DEFAULT_CONFIG.read_text()))
    # gpt-4o: $2.50 in, $10 out per 1M; gpt-4o-mini $0.15 / $0.60; claude-sonnet-4-5 $3 in.
    rows = [
        row(cache_tier=1, baseline_cost_usd=0.026, cost_usd=0.0),
        row(model_used="asahi-sim-gpt-4o", baseline_cost_usd=0.026, cost_usd=0.02),  # read 4,800 cached tokens
        row(model_used="asahi-sim-gpt-4o-mini", baseline_cost_usd=0.026, cost_usd=0.001),  # routed, and cached
        row(model_used="asahi-sim-claude-sonnet-4-5", baseline_cost_usd=0.0315, cost_usd=0.039),  # a cache write
    ]
    split = replay.split_by_cause(rows, catalog)
    assert split["tier1"] == pytest.approx(0.026) and split["tier2"] == 0
    assert split["routing"] == pytest.approx(0.026 - 0.00156)
    assert split["tier3"] == pytest.approx(0.006 + (0.00156 - 0.001) + (0.0315 - 0.039))
    assert sum(split.values()) == pytest.approx(sum(r["baseline_cost_usd"] - r["cost_usd"] for r in rows))


def test_a_replay_through_asahi_serve_shows_tier3_in_the_ledger(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    data = make_data(tmp_path / "data")
    args = ["--data", str(data), "--workload", "sharegpt", "--conversations", "3", "--concurrency", "2",
            "--model", "asahi-sim-gpt-4o", "--json"]
    assert load_bench().main(args) == 0
    report = json.loads(capsys.readouterr().out)["sharegpt"][0]
    assert report["requests"] == 5 and report["errors"] == {}
    assert report["cached_input_tokens"] > 1024 and report["net_by_cause"]["tier3"] > 0
    assert report["net_by_cause"]["routing"] == 0
    assert report["baseline"] - report["spend"] == pytest.approx(sum(report["net_by_cause"].values()))
