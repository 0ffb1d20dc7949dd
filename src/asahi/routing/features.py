"""Cheap text features the embedding misses: how long, how much code, how much arithmetic, which script.

A sentence embedding says what a prompt is about but hardly how hard it is: a long multi-step word problem and
a one-line one embed alike. These counts cost microseconds and add that signal to the learned router.
"""

from __future__ import annotations

import math
import re
from itertools import islice

import numpy as np
import numpy.typing as npt

FEATURE_NAMES = ("log_chars", "log_lines", "log_numbers", "math", "code", "non_ascii")

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_MATH = re.compile(r"[=+\-*/^%<>]|\\frac|\\sum|\\int|\bsolve\b|\bprove\b|\bequation\b|\bprobability\b", re.I)
_CODE = re.compile(r"```|\bdef |\bclass |\bimport |\breturn\b|\bfunction\b|#include|\bSELECT\b|=>|::|[{};]\s*$", re.M)
# Lettered options on their own lines: "A. ...", "(B) ...", "C) ...".
_OPTION = re.compile(r"^\s*\(?([A-Ea-e])[.)]\s+\S", re.M)

# Word problems: quantities (numerals with their units of money, percent or fraction, or number words), a
# question or an instruction to work something out, and a word that asks for a quantity.
_QUANTITY = re.compile(
    r"(?<![\w.])[$£€]?\d+(?:[.,:/]\d+)*%?|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"twenty|thirty|forty|fifty|hundred|thousand|twice|thrice|half|double|triple|dozen|quarter|third)\b",
    re.I,
)
_ASKS = re.compile(r"\?|\b(?:calculate|compute|determine|find|work out|figure out)\b", re.I)
_ASKS_QUANTITY = re.compile(
    r"\bhow (?:many|much|long|far|old|fast|tall|often|high|big)\b|\b(?:total|sum|difference|average|percent|"
    r"percentage|ratio|remaining|left|altogether|in all|combined|each|per|cost|price|profit|earns?|earned|spend|"
    r"spent|pay|paid|value|number)\b",
    re.I,
)
# Code, markup or a numbered list: a task about a text, not a problem to compute.
_NOT_PROSE = re.compile(
    r"```|^\s*(?:def|class|import|from|#include)\b|[{};]\s*$|=>|\bfunction\s*\(|^\s*\d+[.)]\s", re.M
)
WORD_PROBLEM_MAX_CHARS = 1500
WORD_PROBLEM_MAX_LINES = 8

OPEN, CHOICE, WORD_PROBLEM = 0, 1, 2  # prompt families, in the order of `learned.FAMILIES`


def is_multiple_choice(text: str) -> bool:
    """Whether the prompt offers lettered options (A and B at least), as exam-style questions do.

    The router keeps a separate model for such prompts: what makes one hard for the cheap model differs from
    what makes an open request or a word problem hard. Decided from the text alone, so it works at run time.
    """
    letters = {m.upper() for m in _OPTION.findall(text)}
    return {"A", "B"} <= letters


def is_word_problem(text: str) -> bool:
    """Whether an open prompt reads as an arithmetic word problem: short prose with at least two quantities that
    asks for a quantity ("... 3 sprints 3 times a week ... How many meters does he run?").

    Its answer is a short worked solution, much shorter than a chat answer, and whether the cheap model gets it
    right depends on the arithmetic, not on style; so word problems get their own model and threshold. Regular
    expressions over at most `WORD_PROBLEM_MAX_CHARS` characters: microseconds per prompt.
    """
    if len(text) > WORD_PROBLEM_MAX_CHARS or text.count("\n") > WORD_PROBLEM_MAX_LINES:
        return False
    if not _ASKS.search(text) or not _ASKS_QUANTITY.search(text) or _NOT_PROSE.search(text):
        return False
    return sum(1 for _ in islice(_QUANTITY.finditer(text), 2)) == 2


def prompt_family(text: str) -> int:
    """The prompt's family, decided from its text alone at run time: `CHOICE` for lettered options,
    `WORD_PROBLEM` for an open arithmetic word problem, `OPEN` for everything else."""
    if is_multiple_choice(text):
        return CHOICE
    return WORD_PROBLEM if is_word_problem(text) else OPEN


def text_features(text: str) -> npt.NDArray[np.float32]:
    """A fixed-length vector, in the order of `FEATURE_NAMES`, each roughly in 0..10."""
    chars = len(text)
    scale = max(chars, 1)
    return np.array(
        [
            math.log1p(chars),
            math.log1p(text.count("\n")),
            math.log1p(len(_NUMBER.findall(text))),
            100.0 * len(_MATH.findall(text)) / scale,
            math.log1p(len(_CODE.findall(text))),
            10.0 * sum(ord(c) > 127 for c in text) / scale,
        ],
        dtype=np.float32,
    )
