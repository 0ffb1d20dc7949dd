"""How likely a cheap model's answer to a word problem is wrong, read from the answer itself: the cascade's check.

A cascade answers with the cheap model first and escalates to the strong one only when the answer looks wrong.
The signals here cost microseconds and need no model call: whether the answer ends in a clear final number,
whether that number is a plausible answer (a whole number, not negative, not merely copied from the question),
whether the arithmetic the answer writes out is right (every "a op b = c" is recomputed), how long and hedged
the answer is, and how involved the question is (quantities, percentages, fractions). A logistic regression over
them, trained on GSM8K answers with their correctness (`training/verifier.py`), gives P(wrong); the org's cascade
threshold on it is calibrated online (`online/cascade.py`), so the verifier only has to rank answers well.
Measured: held-out AUC and the cascade's saving in docs/routing.md.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

VERIFIER_PATH = Path(__file__).with_name("verifier.json")
FEATURE_NAMES = (
    "final_marker",
    "final_not_integer",
    "final_negative",
    "final_copied",
    "arithmetic_wrong",
    "arithmetic_errors",
    "log_equations",
    "log_answer_chars",
    "log_question_chars",
    "log_answer_lines",
    "hedged",
    "log_question_numbers",
    "question_percent",
    "question_fraction",
    "log_final",
)

_NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?")
_FINAL = re.compile(r"(?:####|answer is:?|answer:)\s*([^\n]*)", re.I)
# Calculator annotations (<<3*4=12>>) and written-out steps ("3 x 4 = 12").
_ANNOTATED = re.compile(r"<<([^=<>]+)=([^<>]+)>>")
_WRITTEN = re.compile(r"(\d[\d,]*(?:\.\d+)?(?:\s*[-+*/x×÷]\s*\$?\d[\d,]*(?:\.\d+)?)+)\s*=\s*\$?(-?\d[\d,]*(?:\.\d+)?)")
_HEDGE = re.compile(r"\b(?:assum\w*|approximately|not possible|cannot|however|unclear|round\w*)\b", re.I)
_FRACTION = re.compile(r"\d/\d|\b(?:half|third|quarter)\b", re.I)
_OPERATORS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
MAX_EXPRESSION = 80  # characters; longer "expressions" are prose the patterns caught by accident


def _number(text: str) -> float | None:
    try:
        return float(text.replace("$", "").replace(",", ""))
    except ValueError:
        return None


def _evaluate(node: ast.expr) -> float:
    """+, -, *, / over numbers only: never `eval` model output."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_evaluate(node.operand)
    raise ValueError("not arithmetic")


def arithmetic(answer: str) -> tuple[int, int]:
    """(wrong, checked): how many of the written-out calculations of `answer` that could be recomputed state a
    result more than rounding away from the right one, and how many could be."""
    wrong = checked = 0
    written = _WRITTEN.findall(_ANNOTATED.sub(" ", answer))  # an annotation is not checked twice
    for expression, stated in _ANNOTATED.findall(answer) + written:
        text = expression.replace(",", "").replace("$", "").replace("×", "*").replace("x", "*").replace("÷", "/")
        result = _number(stated)
        if result is None or len(text) > MAX_EXPRESSION:
            continue
        try:
            value = _evaluate(ast.parse(text.replace("%", "/100"), mode="eval").body)
        except (SyntaxError, ValueError, ZeroDivisionError):
            continue
        checked += 1
        # Wrong when off by a unit of the last decimal written or more: "401" for 400 is wrong, "3.33" for 10/3
        # and "33" for 100/3 are rounding.
        decimals = len(stated.rpartition(".")[2]) if "." in stated else 0
        if abs(value - result) >= 10.0**-decimals - 1e-9:
            wrong += 1
    return wrong, checked


def final_number(answer: str) -> float | None:
    """The answer's final number: after "####" or "the answer is" when present, else the last number written."""
    marked = _FINAL.findall(answer)
    if marked:
        numbers = _NUMBER.findall(marked[-1])
        if numbers:
            return _number(numbers[0])
    numbers = _NUMBER.findall(answer)
    return _number(numbers[-1]) if numbers else None


def features(question: str, answer: str) -> npt.NDArray[np.float64]:
    """The verifier's inputs, in the order of `FEATURE_NAMES`."""
    final = final_number(answer)
    wrong, checked = arithmetic(answer)
    quantities = {_number(n) for n in _NUMBER.findall(question)}
    return np.array(
        [
            float(bool(_FINAL.search(answer))),
            float(final is not None and abs(final - round(final)) > 1e-9),
            float(final is not None and final < 0),
            float(final is not None and final in quantities),
            float(wrong > 0),
            float(min(wrong, 3)),
            math.log1p(checked),
            math.log1p(len(answer)),
            math.log1p(len(question)),
            math.log1p(answer.count("\n")),
            float(bool(_HEDGE.search(answer))),
            math.log1p(len(quantities)),
            float("%" in question),
            float(bool(_FRACTION.search(question))),
            math.log1p(abs(final)) if final is not None else 0.0,
        ]
    )


@dataclass(frozen=True, slots=True)
class Verifier:
    """Logistic regression on `features`: P(the answer is wrong)."""

    weights: npt.NDArray[np.float64]
    bias: float

    def wrong_probability(self, question: str, answer: str) -> float:
        margin = float(features(question, answer) @ self.weights + self.bias)
        return 1.0 / (1.0 + math.exp(-margin)) if margin >= 0 else math.exp(margin) / (1.0 + math.exp(margin))

    def save(self, path: Path) -> None:
        weights = {name: round(float(w), 6) for name, w in zip(FEATURE_NAMES, self.weights, strict=True)}
        path.write_text(json.dumps({"bias": round(self.bias, 6), "weights": weights}, indent=1) + "\n")

    @classmethod
    def load(cls, path: Path = VERIFIER_PATH) -> Verifier:
        data = json.loads(path.read_text())
        if tuple(data["weights"]) != FEATURE_NAMES:
            raise ValueError(f"{path} was trained on other features; retrain with `asahi router train`")
        return cls(np.array([data["weights"][n] for n in FEATURE_NAMES], dtype=np.float64), float(data["bias"]))
