from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from asahi.routing.features import FEATURE_NAMES, text_features
from asahi.routing.learned import FAMILIES, MODEL_PATH, LearnedRouter
from asahi.routing.training.datasets import load_examples, load_prices
from asahi.routing.training.train import (
    CANDIDATES,
    FLOORS,
    calibrate,
    cross_validated_scores,
    design_matrix,
    estimated_saving,
    family_of,
    fit_family,
    fit_ridge,
    fit_router_family,
    quality_loss,
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
    loss, tokens, _, _ = model.assess(fake_embed(["A law question"])[0], "A law question")
    assert -2.0 < loss < 2.0  # a share of the strong model's quality, either way
    assert tokens > 0
    for family in range(len(FAMILIES)):
        assert model.threshold(0.99, family) <= model.threshold(0.95, family) <= model.threshold(0.9, family)


def test_scores_are_out_of_fold(tmp_path: Path) -> None:
    data = make_data(tmp_path, rows=40)
    examples, prices = load_examples(data), load_prices(data)
    x = design_matrix(examples, fake_embed([e.text for e in examples]))
    a = cross_validated_scores(examples, x, prices, seed=0)
    b = cross_validated_scores(examples, x, prices, seed=1)
    assert a.shape == (len(examples),)
    assert not np.allclose(a, b)  # different folds give different held-out models


def test_a_rows_score_never_reads_its_own_answer_or_cost(tmp_path: Path) -> None:
    data = make_data(tmp_path, rows=40)
    examples, prices = load_examples(data), load_prices(data)
    x = design_matrix(examples, fake_embed([e.text for e in examples]))
    i = next(i for i, e in enumerate(examples) if e.dataset == "gsm8k" and not e.contaminated)
    longer = replace(examples[i], strong_output_tokens=5000, strong_cost=1.0, cheap_cost=0.001)
    changed = [*examples[:i], longer, *examples[i + 1 :]]
    before = cross_validated_scores(examples, x, prices, seed=0)
    after = cross_validated_scores(changed, x, prices, seed=0)
    assert after[i] == pytest.approx(before[i])  # only the prompt and the other rows' answers count
    assert not np.allclose(before, after)  # while the others, trained on it, do see the longer answer


def test_estimated_saving_grows_with_the_prompt_and_the_predicted_answer(tmp_path: Path) -> None:
    data = make_data(tmp_path, rows=5)
    examples, prices = load_examples(data)[:2], load_prices(data)
    short, long_ = replace(examples[0], input_tokens=10), replace(examples[1], input_tokens=1000)
    saving = estimated_saving([short, long_], np.array([1.0, 1.0]), prices)
    assert saving[1] > 50 * saving[0]
    # in output tokens of the strong model: 1000 input tokens save (10 − 0.6)/30 each, one answer token 29.4/30
    assert saving[1] == pytest.approx((1000 * 9.4 + 29.4) / 30)
    assert estimated_saving([short], np.array([500.0]), prices)[0] > saving[0] * 100


def test_loss_target_counts_both_directions_on_each_sets_scale(tmp_path: Path) -> None:
    examples = load_examples(make_data(tmp_path, rows=5))
    rows = np.arange(len(examples))
    loss = quality_loss(examples, rows)
    for e, value in zip(examples, loss, strict=True):
        mean_strong = np.mean([r.strong_quality for r in examples if r.dataset == e.dataset])
        assert value == pytest.approx((e.strong_quality - e.cheap_quality) / mean_strong)


def test_ridge_fit_finds_a_linear_signal() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = 2.0 * x[:, 0] + 1.0
    weights, bias = fit_ridge(x, y, l2=0.1)
    assert weights[0] == pytest.approx(2.0, rel=0.01)
    assert abs(weights[1]) < 0.05
    assert bias == pytest.approx(1.0, abs=0.05)


def test_calibrated_threshold_keeps_each_floor_and_tightens_with_it(tmp_path: Path) -> None:
    examples = [e for e in load_examples(make_data(tmp_path, rows=150)) if e.dataset == "mmlu"]
    rng = np.random.default_rng(0)
    scores = -rng.uniform(0, 1, len(examples))  # minus loss per token saved
    table = calibrate(examples, scores)
    assert table.shape == (len(FAMILIES), len(FLOORS))
    thresholds = table[1]  # the MMLU-like rows are multiple choice
    assert np.all(np.diff(thresholds) <= 0)  # a higher floor allows less loss per token
    scored = [i for i, e in enumerate(examples) if not e.contaminated]
    strong = sum(examples[i].strong_quality for i in scored)
    for floor, threshold in zip(FLOORS, thresholds, strict=True):
        kept = sum(examples[i].cheap_quality if -scores[i] <= threshold else examples[i].strong_quality for i in scored)
        assert kept / strong >= floor - 1e-9


def test_a_set_split_across_families_keeps_each_floor_as_a_whole(tmp_path: Path) -> None:
    # GSM8K-like rows, a third of them reworded so they no longer read as word problems: both families' λ are
    # calibrated on the one set, and the set must keep the floor with each row routed at its own family's λ.
    examples = [e for e in load_examples(make_data(tmp_path, rows=300)) if e.dataset == "gsm8k"]
    examples = [replace(e, text=f"Tell me about topic {i}.") if i % 3 == 0 else e for i, e in enumerate(examples)]
    family = family_of(examples)
    assert set(family) == {0, 2}
    scores = -np.random.default_rng(1).uniform(0, 1, len(examples))
    table = calibrate(examples, scores)
    strong = sum(e.strong_quality for e in examples)
    for i, floor in enumerate(FLOORS):
        cheap = -scores <= table[family, i]
        kept = sum(e.cheap_quality if c else e.strong_quality for e, c in zip(examples, cheap, strict=True))
        assert kept / strong >= floor - 1e-9


def test_shipped_model_loads() -> None:
    model = LearnedRouter.load(MODEL_PATH)
    assert model.dimension == 384
    assert model.embedder == "local:all-MiniLM-L6-v2-int8"
    assert MODEL_PATH.stat().st_size < 5_000_000  # "a few MB": the neighbours, int8
    for family in range(len(FAMILIES)):
        assert model.threshold(0.99, family) <= model.threshold(0.95, family) <= model.threshold(0.9, family)
        assert model.threshold(0.95, family) > 0  # 95% of the strong model's quality leaves room to route cheap


def test_saved_model_predicts_as_before_and_keeps_families_apart(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 384))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    x = np.hstack([vectors, rng.normal(size=(40, len(FEATURE_NAMES)))])
    loss = np.where(vectors[:, 0] > 0, 1.0, -1.0)
    tokens = np.log1p(np.where(vectors[:, 0] > 0, 1000.0, 10.0))
    choice = fit_family(x, loss, tokens, blend=0.0, temperature=0.05)  # neighbours alone
    open_ = fit_family(x, -loss, tokens, blend=0.5, temperature=0.1)  # the opposite rule, half ridge
    thresholds = np.array([[0.01, 0.001], [0.02, 0.002], [0.03, 0.003]])
    model = LearnedRouter("test", (open_, choice, open_), np.array([0.8, 1.0]), thresholds)
    model.save(tmp_path / "m.npz")
    loaded = LearnedRouter.load(tmp_path / "m.npz")
    question, options = "Which one?", "Which one?\nA. this\nB. that"
    for text, family in ((question, open_), (options, choice)):
        x_text = np.concatenate([vectors[3], text_features(text)])[None, :]
        expected_loss, expected_tokens = (float(v[0]) for v in family.predict(x_text))
        got = loaded.assess(vectors[3].astype(np.float32), text)
        assert got.loss == pytest.approx(expected_loss, abs=0.02)
        assert got.answer_tokens == pytest.approx(expected_tokens, rel=0.05)
    # A prompt's own neighbours outvote the prior: the choice family follows the target, the open one opposes it.
    assert (loaded.assess(vectors[3].astype(np.float32), options).loss > 0) == bool(loss[3] > 0)
    assert (loaded.assess(vectors[3].astype(np.float32), question).loss > 0) != bool(loss[3] > 0)
    assert (loaded.assess(vectors[3].astype(np.float32), options).answer_tokens > 100) == bool(loss[3] > 0)
    assert loaded.threshold(0.9, 1) == pytest.approx(0.002)  # the stricter neighbour of an uncalibrated floor


def test_selection_sees_only_the_rows_it_is_given(tmp_path: Path) -> None:
    data = make_data(tmp_path, rows=60)
    examples = load_examples(data)
    x = design_matrix(examples, fake_embed([e.text for e in examples]))
    rows = np.flatnonzero(family_of(examples) == 1)
    model = fit_router_family(examples, rows, x, load_prices(data))
    assert len(model.losses) == len(rows)  # fitted on those rows, neighbours included, and no others
    assert (model.blend, model.temperature) in CANDIDATES
