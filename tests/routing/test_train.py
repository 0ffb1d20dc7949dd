from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import numpy.typing as npt

from asahi.routing.datasets import load_examples
from asahi.routing.learned import MODEL_PATH, LearnedRouter
from asahi.routing.train import calibrate, cross_validated_scores, design_matrix, fit_logistic, train
from tests.routing.data import make_data


def fake_embed(texts: list[str]) -> npt.NDArray[np.float32]:
    """Deterministic unit vectors that share a direction per topic word, like a real embedder would."""
    rows = []
    for text in texts:
        seed = int(hashlib.sha256(text.split()[1].encode()).hexdigest()[:8], 16)
        v = np.random.default_rng(seed).normal(size=384) + 0.1 * np.random.default_rng(len(text)).normal(size=384)
        rows.append(v / np.linalg.norm(v))
    return np.array(rows, dtype=np.float32)


def test_train_writes_a_loadable_small_model_and_reports_held_out_figures(tmp_path: Path) -> None:
    data = make_data(tmp_path / "data")
    report = train(data, tmp_path / "model.npz", embed=fake_embed)
    assert report.size_bytes < 300_000
    assert set(report.datasets) == {"mmlu", "gsm8k", "alpacaeval"}
    assert report.datasets["mmlu"].rows == 29  # the contaminated row is never scored
    assert report.datasets["alpacaeval"].trained_on is False
    assert report.train_rows == 60  # AlpacaEval rows are not trained on
    model = LearnedRouter.load(tmp_path / "model.npz")
    p = model.p_cheap_enough(fake_embed(["A law question"])[0], "A law question")
    assert 0.0 < p < 1.0
    assert 0.0 <= model.threshold(0.95) <= 1.0


def test_scores_are_out_of_fold(tmp_path: Path) -> None:
    examples = load_examples(make_data(tmp_path, rows=40))
    x = design_matrix(examples, fake_embed([e.text for e in examples]))
    a = cross_validated_scores(examples, x, seed=0)
    b = cross_validated_scores(examples, x, seed=1)
    assert a.shape == (len(examples),)
    assert not np.allclose(a, b)  # different folds give different held-out models


def test_logistic_fit_separates_a_separable_signal() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] > 0).astype(float)
    weights, bias = fit_logistic(x, y, l2=0.1)
    assert weights[0] > 5 * abs(weights[1])
    assert abs(bias) < 1


def test_calibration_is_monotone_in_the_floor(tmp_path: Path) -> None:
    examples = [e for e in load_examples(make_data(tmp_path, rows=150)) if e.dataset == "mmlu"]
    scores = np.linspace(0, 1, len(examples))
    thresholds = calibrate(examples, scores)
    assert np.all(np.diff(thresholds) >= 0)


def test_shipped_model_loads() -> None:
    model = LearnedRouter.load(MODEL_PATH)
    assert model.dimension == 384
    assert model.embedder == "local:all-MiniLM-L6-v2-int8"
    assert MODEL_PATH.stat().st_size < 300_000
    assert model.threshold(0.9) <= model.threshold(0.95) <= model.threshold(0.99)
