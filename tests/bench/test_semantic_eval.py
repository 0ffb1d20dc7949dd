"""The evaluation harness runs end to end on a small generated data folder (never on the real data sets)."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path
from types import ModuleType

import pytest

METHODS = {"asahi@0.01", "asahi@0.02", "asahi@0.05", "static@0.80", "static@same_fhr"}
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
    assert set(report) == {"datasets", "overall"}
    assert set(report["datasets"]) == {"banking77", "qqp_gptcache"}
    for methods in [*report["datasets"].values(), report["overall"]]:
        assert set(methods) == METHODS
        for m in methods.values():
            assert set(m) == METRICS
            assert all(0.0 <= v <= 1.0 for v in m.values())
            assert m["false_hit_rate"] <= m["hit_rate"]
    static = report["datasets"]["banking77"]["static@0.80"]
    assert static["hit_rate"] > 0  # same-intent paraphrases are found at GPTCache's default
    assert report["overall"]["static@same_fhr"]["false_hit_rate"] <= (
        report["overall"]["asahi@0.02"]["false_hit_rate"] + 1e-9)
    assert (tmp_path / "emb").exists()  # embeddings are cached for reruns


def test_subsample_limits_the_stream(data: Path) -> None:
    streams = harness().load_streams(data, 5, seed=1)
    assert len(streams["banking77"].texts) <= 5 and len(streams["qqp_gptcache"].texts) <= 10
