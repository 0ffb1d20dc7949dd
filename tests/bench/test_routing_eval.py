"""bench/routing_eval.py end to end on a generated data folder (never the real data sets)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from tests.routing.data import make_data

BENCH = Path(__file__).resolve().parents[2] / "bench" / "routing_eval.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("routing_eval", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_json_output_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = make_data(tmp_path / "data", rows=20)
    args = ["--data", str(data), "--json", "--seeds", "1", "--cache", str(tmp_path / "cache")]
    assert load_bench().main(args) == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload) == {"datasets"}
    assert set(payload["datasets"]) == {"mmlu", "gsm8k", "alpacaeval"}
    for result in payload["datasets"].values():
        assert set(result) == {"saving_at_95", "curve"}
        assert set(result["saving_at_95"]) == {"asahi", "random"}
        assert all(0.0 <= v <= 1.0 for v in result["saving_at_95"].values())
        assert result["curve"][0] == [1.0, 1.0]
        assert all(len(point) == 2 for point in result["curve"])
    assert (tmp_path / "cache" / "embeddings.npz").exists()


def test_docs_section_is_replaced_not_duplicated(tmp_path: Path) -> None:
    bench = load_bench()
    doc = tmp_path / "routing.md"
    doc.write_text("# Routing\n\nHand-written.\n", encoding="utf-8")
    bench.write_doc(doc, "first")
    bench.write_doc(doc, "second")
    text = doc.read_text(encoding="utf-8")
    assert "Hand-written." in text
    assert "second" in text and "first" not in text
    assert text.count(bench.START) == 1
