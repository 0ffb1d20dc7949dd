"""Comparisons into labels: exact match where answers are structured, the judge's verdict, feedback."""

from __future__ import annotations

import pytest

from asahi.routing.features import CHOICE, OPEN, WORD_PROBLEM
from asahi.routing.online.labels import (
    choice_letter,
    exact_match_loss,
    feedback_loss,
    graded_loss,
    judge_prompt,
    verdict_loss,
)


@pytest.mark.parametrize(
    ("answer", "letter"),
    [
        ("Answer: C", "C"),
        ("The answer is (B).", "B"),
        ("B. Paris", "B"),
        ("(C)", "C"),
        ("D", "D"),
        ("A is tempting, but the answer is B", "B"),
        ("the answer is a dog", None),
        ("Apples are red.", None),
    ],
)
def test_choice_letters(answer: str, letter: str | None) -> None:
    assert choice_letter(answer) == letter


def test_exact_match_by_family() -> None:
    assert exact_match_loss("Answer: B", "The answer is B.", CHOICE) == 0.0
    assert exact_match_loss("Answer: B", "Answer: D", CHOICE) == 1.0
    assert exact_match_loss("3 + 4 = 7\n#### 7", "So the total is 7.0", WORD_PROBLEM) == 0.0
    assert exact_match_loss("#### 8", "The total is 7.", WORD_PROBLEM) == 1.0
    assert exact_match_loss('{"a": 1, "b": [2]}', '{"b":[2],"a":1}', OPEN, json_mode=True) == 0.0
    assert exact_match_loss('{"a": 1}', '{"a": 2}', OPEN, json_mode=True) == 1.0


def test_unstructured_answers_need_the_judge() -> None:
    assert exact_match_loss("A poem.", "Another poem.", OPEN) is None
    assert exact_match_loss("no letter here", "Answer: A", CHOICE) is None
    assert exact_match_loss("not json", "{}", OPEN, json_mode=True) is None


@pytest.mark.parametrize("cheap_first", [True, False])
def test_verdicts_follow_the_order_the_answers_were_shown_in(cheap_first: bool) -> None:
    prompt = judge_prompt("Q?", "cheap answer", "strong answer", cheap_first)
    first = "cheap answer" if cheap_first else "strong answer"
    assert prompt.index(first) < prompt.index("strong answer" if cheap_first else "cheap answer")
    cheap_verdict = "[[A]]" if cheap_first else "[[B]]"
    strong_verdict = "[[B]]" if cheap_first else "[[A]]"
    assert verdict_loss(f"... so {cheap_verdict}", cheap_first) == -1.0
    assert verdict_loss(f"... so {strong_verdict}", cheap_first) == 1.0
    assert verdict_loss("a tie: [[C]]", cheap_first) == 0.0
    assert verdict_loss("no verdict", cheap_first) is None


def test_grades_and_feedback() -> None:
    assert graded_loss(6.0, 9.0, strong_mean=8.0) == pytest.approx(0.375)
    assert feedback_loss(True) == 0.0
    assert feedback_loss(False) == 1.0
