"""A label from a comparison: the quality the cheap answer lost against the strong one, as a share of the strong
model's quality (0: as good, 1: worthless, negative: better).

Three sources, cheapest first:
- **exact match** where answers are structured (a choice letter, a final number, JSON): equal answers lose
  nothing, different ones everything (the strong answer is taken as right, so this errs toward caution);
- **a judge model** with the fixed pairwise rubric below, for everything else; its call is a cost of the label;
- **user feedback** on a routed answer (`POST /feedback`): thumbs down is a full loss, up none.
"""

from __future__ import annotations

import json
import re

from asahi.routing.features import CHOICE, WORD_PROBLEM
from asahi.routing.verifier import final_number

# "Answer: C", "the answer is (B)", "option D", or a line that starts with the letter ("B. Paris", "(C)").
# Capital letters only: "the answer is a dog" picks nothing.
_LETTER = re.compile(r"(?i:answer(?: is)?|option)\s*[:\-]?\s*\(?([A-E])\)?(?![\w'])|^\s*\(?([A-E])(?:[.):]|\s*$)", re.M)
_VERDICT = re.compile(r"\[\[([ABC])\]\]")

JUDGE_RUBRIC = """\
You compare two answers to the same request. Judge which answer is more correct and more helpful for the user;
ignore length and style unless they change usefulness. Do not let the order of the answers sway you.
Finish with exactly one verdict: [[A]] if answer A is better, [[B]] if answer B is better, [[C]] for a tie.

[Request]
{question}

[Answer A]
{first}

[Answer B]
{second}
"""


def choice_letter(answer: str) -> str | None:
    """The option an answer picks: "Answer: C", "(b)", or a lone letter on its own line; the last one given."""
    found = [a or b for a, b in _LETTER.findall(answer)]
    return found[-1].upper() if found else None


def structured_answer(answer: str, family: int, json_mode: bool = False) -> str | None:
    """The comparable core of an answer, or None when it has none: JSON canonicalised, a choice letter, a final
    number."""
    if json_mode:
        try:
            return json.dumps(json.loads(answer), sort_keys=True, separators=(",", ":"))
        except ValueError:
            return None
    if family == CHOICE:
        return choice_letter(answer)
    if family == WORD_PROBLEM:
        number = final_number(answer)
        return None if number is None else f"{number:.6g}"
    return None


def exact_match_loss(cheap: str, strong: str, family: int, json_mode: bool = False) -> float | None:
    """0 when the structured answers agree, 1 when they differ; None when either has no structured answer (then
    ask the judge)."""
    a, b = structured_answer(cheap, family, json_mode), structured_answer(strong, family, json_mode)
    if a is None or b is None:
        return None
    return 0.0 if a == b else 1.0


def judge_prompt(question: str, cheap: str, strong: str, cheap_first: bool) -> str:
    """The judge's prompt; alternate `cheap_first` (e.g. at random) so position bias averages out."""
    first, second = (cheap, strong) if cheap_first else (strong, cheap)
    return JUDGE_RUBRIC.format(question=question, first=first, second=second)


def verdict_loss(verdict: str, cheap_first: bool) -> float | None:
    """The label from the judge's reply: 1 when the strong answer won, 0 for a tie, -1 when the cheap one won;
    None when the reply carries no verdict (discard the label)."""
    found = _VERDICT.findall(verdict)
    if not found:
        return None
    winner = found[-1]
    if winner == "C":
        return 0.0
    cheap_won = (winner == "A") == cheap_first
    return -1.0 if cheap_won else 1.0


def graded_loss(cheap_score: float, strong_score: float, strong_mean: float) -> float:
    """From grades on one scale (e.g. 1–10): the gap over the strong model's mean grade."""
    return (strong_score - cheap_score) / max(strong_mean, 1e-9)


def feedback_loss(positive: bool) -> float:
    return 0.0 if positive else 1.0
