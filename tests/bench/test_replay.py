"""bench/replay.py: workloads read from generated files (never the real data sets), the split by cause, one run."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

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
    return {"cache_tier": 0, "prompt_cache_saved_usd": 0.0} | fields


def test_the_causes_add_up_to_the_net_saving() -> None:
    rows = [
        row(cache_tier=1, saved_usd=0.026),
        row(saved_usd=0.006, prompt_cache_saved_usd=0.006),  # the baseline model, its prompt cache read
        row(saved_usd=0.025, prompt_cache_saved_usd=0.0006),  # routed to a cheaper model, which read its cache too
        row(saved_usd=-0.0075, prompt_cache_saved_usd=-0.0075),  # an Anthropic cache write not yet read
        row(saved_usd=None, prompt_cache_saved_usd=None),  # a model without a price
    ]
    split = load_bench().split_by_cause(rows)
    assert split["tier1"] == pytest.approx(0.026) and split["tier2"] == 0
    assert split["tier3"] == pytest.approx(0.006 + 0.0006 - 0.0075)
    assert split["routing"] == pytest.approx(0.025 - 0.0006)
    assert sum(split.values()) == pytest.approx(sum(r["saved_usd"] or 0.0 for r in rows))


@pytest.mark.parametrize(("model", "credited"), [("asahi-sim-claude-sonnet-4-5", True), ("asahi-sim-gpt-4o", False)])
def test_a_replay_through_asahi_serve_shows_tier3_in_the_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], model: str, credited: bool
) -> None:
    """Claude caches what Asahi's breakpoints mark: tier 3's saving. OpenAI caches long prompts by itself: the
    ledger shows the cached tokens but credits Asahi nothing for them."""
    data = make_data(tmp_path / "data")
    args = ["--data", str(data), "--workload", "sharegpt", "--conversations", "3", "--concurrency", "2",
            "--model", model, "--json"]
    assert load_bench().main(args) == 0
    report = json.loads(capsys.readouterr().out)["sharegpt"][0]
    assert report["requests"] == 5 and report["errors"] == {}
    # Claude writes the prefix on a conversation's second turn and reads it on the third; OpenAI reads at once.
    assert (report["net_by_cause"]["tier3"] != 0) == credited
    assert credited or report["cached_input_tokens"] > 1024
    assert report["net_by_cause"]["routing"] == 0
    assert report["baseline"] - report["spend"] == pytest.approx(sum(report["net_by_cause"].values()))
