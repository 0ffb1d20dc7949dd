"""bench/routing_eval.py end to end on a generated data folder (never the real data sets)."""

from __future__ import annotations

import importlib.util
import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from types import ModuleType
from typing import Any

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


@pytest.fixture(scope="module")
def online_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    """One small online run (it trains a starting model per set), shared: (data, cache, JSON payload)."""
    root = tmp_path_factory.mktemp("online")
    data, cache = make_data(root / "data", rows=40), root / "cache"
    args = ["--online", "--data", str(data), "--json", "--seeds", "2", "--resampled", "300", "--cache", str(cache)]
    out = io.StringIO()
    with redirect_stdout(out):
        assert load_bench().main(args) == 0
    return data, cache, json.loads(out.getvalue())


def test_online_json_output_shape(online_run: tuple[Path, Path, dict[str, Any]]) -> None:
    _, cache, payload = online_run
    assert set(payload["datasets"]) == {"mmlu", "gsm8k", "alpacaeval"}
    assert set(payload["datasets"]["gsm8k"]) == {"online", "cascade", "cascade_resampled"}
    for modes in payload["datasets"].values():
        for result in modes.values():
            assert set(result) == {"quality_share", "saving", "shadow_share"}
            assert 0.0 <= result["shadow_share"] <= 1.0
            assert result["quality_share"] > 0.5
    # a starting model was trained for each set, without it
    assert {p.name for p in cache.glob("unseen-*.npz")} == {
        "unseen-mmlu.npz",
        "unseen-gsm8k.npz",
        "unseen-alpacaeval.npz",
    }


def test_online_writes_its_own_section_and_plot(online_run: tuple[Path, Path, dict[str, Any]], tmp_path: Path) -> None:
    data, cache, _ = online_run
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "routing.md").write_text("# Routing\n\nHand-written.\n", encoding="utf-8")
    args = ["--online", "--data", str(data), "--seeds", "1", "--resampled", "100", "--cache", str(cache)]
    bench = load_bench()
    assert bench.main([*args, "--docs", str(docs)]) == 0
    assert bench.main([*args, "--docs", str(docs)]) == 0
    text = (docs / "routing.md").read_text(encoding="utf-8")
    assert "Hand-written." in text
    assert text.count(bench.ONLINE_START) == 1
    assert "## Online routing, measured" in text and "gsm8k (cascade)" in text


def test_model_scores_a_model_file_as_it_is(
    online_run: tuple[Path, Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    data, cache, _ = online_run
    args = ["--model", str(cache / "unseen-mmlu.npz"), "--data", str(data), "--json", "--cache", str(cache)]
    assert load_bench().main(args) == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload["datasets"]) == {"mmlu", "gsm8k", "alpacaeval"}
    for result in payload["datasets"].values():
        assert set(result["model"]) == {"rows", "quality_share", "saving", "saving_at_95"}
