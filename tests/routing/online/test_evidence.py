"""Labels: bounded, persisted compactly, averaged over neighbours."""

from __future__ import annotations

import json

import numpy as np
import pytest

from asahi.routing.online import evidence
from asahi.routing.online.evidence import Evidence, kernel_means

COLUMNS = dict.fromkeys(evidence.COLUMNS, 0.0)


def test_the_oldest_labels_age_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evidence, "MAX_LABELS", 3)
    labels = Evidence()
    for i in range(5):
        labels.add(np.ones(4), **(COLUMNS | {"loss": float(i)}))
    assert len(labels) == 3
    assert list(labels["loss"]) == [2.0, 3.0, 4.0]


def test_a_label_needs_every_column() -> None:
    with pytest.raises(ValueError, match="exactly"):
        Evidence().add(np.ones(4), loss=1.0)


def test_round_trip_keeps_values_and_cosines() -> None:
    rng = np.random.default_rng(0)
    labels = Evidence()
    for i in range(20):
        vector = rng.normal(size=384)
        labels.add(vector / np.linalg.norm(vector), **(COLUMNS | {"loss": i / 7}))
    restored = Evidence.from_json(json.loads(json.dumps(labels.to_json())))
    assert restored["loss"] == pytest.approx(labels["loss"], abs=1e-5)
    query = labels.embeddings[3]
    assert restored.similarities(query) == pytest.approx(labels.similarities(query), abs=0.01)


def test_kernel_means_follow_the_nearest_labels() -> None:
    similarities = np.array([[0.95, 0.2, 0.1], [0.1, 0.2, 0.95]])
    values = np.array([1.0, 0.0, 0.0])
    near_one, near_zero = kernel_means(similarities, values, prior=0.5)
    assert near_one > 0.4 > near_zero


def test_excluded_labels_do_not_count() -> None:
    similarities = np.array([[-np.inf, 0.9]])
    assert kernel_means(similarities, np.array([1.0, 0.0]), prior=0.0)[0] == pytest.approx(0.0)
