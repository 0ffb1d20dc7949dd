"""Cheap textual vetoes for the classic false hits of embedding similarity.

Sentence embeddings barely move when a number, a negation or a name changes ("convert 5 USD" / "convert 50
USD", "can I" / "can't I"), yet the answer does. Each veto compares one such feature of the two prompts and
forbids a hit when it differs. bench/semantic_eval.py measures each one; only the ones that pay are on by default.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NEGATION = re.compile(r"\b(?:not|no|never|none|nothing|nobody|without|cannot)\b|n't\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][\w'-]*")

Veto = Callable[[str, str], bool]


def numbers_differ(a: str, b: str) -> bool:
    return set(_NUMBER.findall(a)) != set(_NUMBER.findall(b))


def negation_differs(a: str, b: str) -> bool:
    return bool(_NEGATION.search(a)) != bool(_NEGATION.search(b))


def _names(text: str) -> set[str]:
    """Capitalised words not opening a sentence: a crude, fast stand-in for named entities."""
    names: set[str] = set()
    for sentence in re.split(r"[.!?]\s+", text):
        words = _WORD.findall(sentence)
        names.update(w.lower() for w in words[1:] if w[0].isupper() and w.upper() != w and w != "I")
    return names


def names_differ(a: str, b: str) -> bool:
    return _names(a) != _names(b)


VETOES: dict[str, Veto] = {"numbers": numbers_differ, "negation": negation_differs, "names": names_differ}
DEFAULT_VETOES: tuple[str, ...] = ("numbers",)


def vetoed(a: str, b: str, names: tuple[str, ...] = DEFAULT_VETOES) -> str | None:
    """The name of the first veto that fires, or None."""
    for name in names:
        if VETOES[name](a, b):
            return name
    return None
