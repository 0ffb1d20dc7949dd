"""The evaluation harness runs end to end on a small generated data folder (never on the real data sets)."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

METHODS = {"asahi@0.01", "asahi@0.02", "asahi@0.05", "static@0.80", "static@delta", "static@same_fhr"}
SIDE_METHODS = {"asahi@0.02", "static@0.80", "static@delta", "static@same_fhr"}
METRICS = {"hit_rate", "false_hit_rate", "precision", "recall"}


def harness() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "semantic_eval.py"
    spec = importlib.util.spec_from_file_location("semantic_eval", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["semantic_eval"] = module
    spec.loader.exec_module(module)
    return module


def write(folder: Path, name: str, rows: list[dict[str, object]]) -> None:
    (folder / name).mkdir(parents=True)
    (folder / name / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def data(tmp_path: Path) -> Path:
    rng = random.Random(0)
    topics = ["reset my password", "order a new card", "cancel a transfer", "change my address",
              "check my balance", "report a stolen phone"]
    intents = [{"id": i, "text": f"{rng.choice(['how do I', 'can I', 'I want to', 'please help me'])} {t}"
                f"{rng.choice(['', ' today', ' now', ' quickly', ' online'])}", "intent": t.replace(" ", "_")}
               for i, t in enumerate(topics * 6)]
    intents.append({"id": 999, "text": "what is the tallest mountain", "intent": "oos"})
    write(tmp_path, "banking77", intents)
    pairs = [{"id": i, "question1": f"How do I {t}?", "question2": f"What is the way to {t}?",
              "is_duplicate": i % 2} for i, t in enumerate(topics)]
    write(tmp_path, "qqp_gptcache", pairs)
    return tmp_path


def test_json_report_shape_and_sanity(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    harness().main(["--data", str(data), "--json", "--cache-dir", str(tmp_path / "emb")])
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"datasets", "overall", "embedders"}
    assert set(report["datasets"]) == {"banking77", "qqp_gptcache"}
    assert set(report["embedders"]) == {"two-stage", "minilm", "static"}
    assert report["embedders"]["two-stage"]["overall"] == report["overall"]  # the default configuration
    for name, result in report["embedders"].items():
        for methods in [*result["datasets"].values(), result["overall"]]:
            assert set(methods) == (METHODS if name == "two-stage" else SIDE_METHODS)
            for method, m in methods.items():
                share = {"minilm_share"} if name == "two-stage" and method.startswith("asahi") else set()
                assert set(m) == METRICS | share
                assert all(0.0 <= v <= 1.0 for v in m.values())
                assert m["false_hit_rate"] <= m["hit_rate"]
    static = report["datasets"]["banking77"]["static@0.80"]
    assert static["hit_rate"] > 0  # same-intent paraphrases are found at GPTCache's default
    overall = report["overall"]
    assert overall["static@same_fhr"]["false_hit_rate"] <= overall["asahi@0.02"]["false_hit_rate"] + 1e-9
    assert overall["static@delta"]["false_hit_rate"] <= 0.02
    assert overall["asahi@0.02"]["minilm_share"] <= 1.0
    assert (tmp_path / "emb").exists()  # embeddings are cached for reruns


def test_markdown_puts_the_embedders_side_by_side(data: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    harness().main(["--data", str(data), "--cache-dir", str(tmp_path / "emb"), "--embedders", "two-stage", "static"])
    table = capsys.readouterr().out
    assert "Command: `python bench/semantic_eval.py --cache-dir" in table and "--data" not in table
    assert "| overall | two-stage |" in table and "| overall | static |" in table
    assert "static@delta (τ=" in table


def test_subsample_limits_the_stream(data: Path) -> None:
    streams = harness().load_streams(data, 5, seed=1)
    assert len(streams["banking77"].texts) <= 5 and len(streams["qqp_gptcache"].texts) <= 10
