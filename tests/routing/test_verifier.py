"""The cascade's check: recomputed arithmetic, the final number, and the shipped weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asahi.routing.verifier import FEATURE_NAMES, Verifier, arithmetic, features, final_number

QUESTION = "Tom has 3 boxes of 12 apples and eats 5. How many apples are left?"
RIGHT = "He has 3 * 12 = <<3*12=36>>36 apples.\nAfter eating, 36 - 5 = 31 are left.\n#### 31"
WRONG = "He has 3 * 12 = <<3*12=38>>38 apples.\nAfter eating, 38 - 5 = 33 are left.\n#### 33"


def test_arithmetic_is_recomputed() -> None:
    assert arithmetic(RIGHT) == (0, 3)  # the prose "3 * 12 = 36" and its annotation both count
    assert arithmetic(WRONG) == (2, 3)  # 3 * 12 = 38, twice; 38 - 5 = 33 is right given the slip


def test_arithmetic_never_evaluates_anything_else() -> None:
    assert arithmetic("<<__import__('os')=1>>") == (0, 0)
    assert arithmetic("<<2**99999=1>>") == (0, 0)


@pytest.mark.parametrize(
    ("answer", "number"),
    [(RIGHT, 31.0), ("The answer is $1,250.", 1250.0), ("so 4.5 hours in total", 4.5), ("no number", None)],
)
def test_final_number(answer: str, number: float | None) -> None:
    assert final_number(answer) == number


def test_features_have_one_value_per_name() -> None:
    assert features(QUESTION, RIGHT).shape == (len(FEATURE_NAMES),)


def test_the_shipped_verifier_distrusts_a_wrong_calculation() -> None:
    verifier = Verifier.load()
    assert verifier.wrong_probability(QUESTION, WRONG) > verifier.wrong_probability(QUESTION, RIGHT)
    assert 0.0 < verifier.wrong_probability(QUESTION, RIGHT) < 1.0


def test_save_and_load(tmp_path: Path) -> None:
    verifier = Verifier(np.arange(len(FEATURE_NAMES), dtype=np.float64) / 10, -1.5)
    verifier.save(tmp_path / "v.json")
    loaded = Verifier.load(tmp_path / "v.json")
    assert loaded.weights.tolist() == pytest.approx(verifier.weights.tolist())
    assert loaded.bias == verifier.bias


def test_weights_for_other_features_are_refused(tmp_path: Path) -> None:
    (tmp_path / "v.json").write_text('{"bias": 0, "weights": {"x": 1}}')
    with pytest.raises(ValueError, match="other features"):
        Verifier.load(tmp_path / "v.json")
