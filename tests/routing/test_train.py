from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from asahi.routing.datasets import load_examples
from asahi.routing.features import FEATURE_NAMES, text_features
from asahi.routing.learned import MODEL_PATH, LearnedRouter
from asahi.routing.train import (
    CANDIDATES,
    calibrate,
    cross_validated_scores,
    design_matrix,
    family_of,
    fit_family,
    fit_logistic,
    fit_router_family,
    train,
)
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
    assert report.size_bytes < 5_000_000
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
    assert MODEL_PATH.stat().st_size < 5_000_000  # "a few MB": the neighbours, int8
    assert model.threshold(0.9) <= model.threshold(0.95) <= model.threshold(0.99)


def test_saved_model_predicts_as_before_and_keeps_families_apart(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 384))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    x = np.hstack([vectors, rng.normal(size=(40, len(FEATURE_NAMES)))])
    labels = (vectors[:, 0] > 0).astype(float)
    choice = fit_family(x, labels, blend=0.0, temperature=0.05)  # neighbours alone
    open_ = fit_family(x, 1 - labels, blend=0.5, temperature=0.1)  # the opposite rule, half logistic
    model = LearnedRouter("test", (open_, choice), np.array([0.8, 1.0]), np.array([0.5, 0.9]))
    model.save(tmp_path / "m.npz")
    loaded = LearnedRouter.load(tmp_path / "m.npz")
    question, options = "Which one?", "Which one?\nA. this\nB. that"
    for text, family in ((question, open_), (options, choice)):
        x_text = np.concatenate([vectors[3], text_features(text)])[None, :]
        expected = float(family.predict(x_text)[0])
        assert loaded.p_cheap_enough(vectors[3].astype(np.float32), text) == pytest.approx(expected, abs=0.02)
    # A prompt's own neighbours outvote the prior: the choice family follows the label, the open one opposes it.
    assert (loaded.p_cheap_enough(vectors[3].astype(np.float32), options) > 0.5) == bool(labels[3])
    assert (loaded.p_cheap_enough(vectors[3].astype(np.float32), question) > 0.5) != bool(labels[3])


def test_selection_sees_only_the_rows_it_is_given(tmp_path: Path) -> None:
    examples = load_examples(make_data(tmp_path, rows=60))
    x = design_matrix(examples, fake_embed([e.text for e in examples]))
    rows = np.flatnonzero(family_of(examples) == 1)
    model = fit_router_family(examples, rows, x)
    assert len(model.labels) == len(rows)  # fitted on those rows, neighbours included, and no others
    assert (model.blend, model.temperature) in CANDIDATES
