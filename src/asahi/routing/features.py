"""Cheap text features the embedding misses: how long, how much code, how much arithmetic, which script.

A sentence embedding says what a prompt is about but hardly how hard it is: a long multi-step word problem and
a one-line one embed alike. These counts cost microseconds and add that signal to the learned router.
"""

from __future__ import annotations

import math
import re

import numpy as np
import numpy.typing as npt

FEATURE_NAMES = ("log_chars", "log_lines", "log_numbers", "math", "code", "non_ascii")

_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_MATH = re.compile(r"[=+\-*/^%<>]|\\frac|\\sum|\\int|\bsolve\b|\bprove\b|\bequation\b|\bprobability\b", re.I)
_CODE = re.compile(r"```|\bdef |\bclass |\bimport |\breturn\b|\bfunction\b|#include|\bSELECT\b|=>|::|[{};]\s*$", re.M)
# Lettered options on their own lines: "A. ...", "(B) ...", "C) ...".
_OPTION = re.compile(r"^\s*\(?([A-Ea-e])[.)]\s+\S", re.M)


def is_multiple_choice(text: str) -> bool:
    """Whether the prompt offers lettered options (A and B at least), as exam-style questions do.

    The router keeps a separate model for such prompts: what makes one hard for the cheap model differs from
    what makes an open request or a word problem hard. Decided from the text alone, so it works at run time.
    """
    letters = {m.upper() for m in _OPTION.findall(text)}
    return {"A", "B"} <= letters


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
