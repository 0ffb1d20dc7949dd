"""Training the verifier: a logistic fit that ranks, cross-fitted scores, and the file it writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from asahi.routing.training.datasets import AnsweredExample, load_answers
from asahi.routing.training.verifier import auc, cross_validated, fit_logistic, train_verifier
from asahi.routing.verifier import Verifier
from tests.routing.data import make_data


def test_auc() -> None:
    assert auc(np.array([0.1, 0.2, 0.8, 0.9]), np.array([False, False, True, True])) == 1.0
    assert auc(np.array([0.5, 0.5]), np.array([False, True])) == 0.5


def test_logistic_fit_separates_what_is_separable() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    wrong = (x[:, 0] + 0.3 * rng.normal(size=400) > 0).astype(float)
    model = fit_logistic(x, wrong)
    assert model.weights[0] > abs(model.weights[1]) + abs(model.weights[2])
    assert auc(x @ model.weights + model.bias, wrong.astype(bool)) > 0.9


def test_cross_validated_scores_use_answers_that_show_their_errors() -> None:
    rows = []
    for i in range(200):
        good = i % 2 == 0
        answer = f"{i} * 2 = <<{i}*2={2 * i if good else 2 * i + 1}>>{2 * i if good else 2 * i + 1}\n#### {2 * i}"
        rows.append(AnsweredExample(f"What is {i} times 2?", answer, "", good, True))
    scores = cross_validated(rows)
    assert auc(scores, np.array([not r.cheap_correct for r in rows])) > 0.9


def test_train_writes_a_loadable_verifier(tmp_path: Path) -> None:
    data = make_data(tmp_path / "data", rows=60)
    assert len(load_answers(data)) == 60
    verifier, held_out = train_verifier(data, tmp_path / "verifier.json")
    assert 0.0 <= held_out <= 1.0
    assert Verifier.load(tmp_path / "verifier.json").weights.tolist() == [round(w, 6) for w in verifier.weights]
