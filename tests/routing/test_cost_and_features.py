from __future__ import annotations

import pytest

from asahi.domain import ChatRequest, Message, TextPart, Tool
from asahi.routing.catalog import Catalog
from asahi.routing.cost import (
    EXPECTED_OUTPUT_TOKENS,
    estimate_cost,
    estimate_input_tokens,
    expected_output_tokens,
    tokens_from_chars,
)
from asahi.routing.features import (
    CHOICE,
    FEATURE_NAMES,
    OPEN,
    WORD_PROBLEM,
    is_multiple_choice,
    prompt_family,
    text_features,
)


def test_answer_lengths_in_training_units_are_characters_over_four() -> None:
    assert tokens_from_chars(0) == 0
    assert tokens_from_chars(5) == 2


def test_input_tokens_count_messages_and_tools_with_the_chat_format() -> None:
    plain = ChatRequest(model="gpt-4o", messages=[Message("user", [TextPart("Hello world, how are you today?")])])
    with_tool = ChatRequest(model="gpt-4o", messages=plain.messages,
                            tools=[Tool("lookup", "find it", {"type": "object"})])
    # 8 text tokens in o200k_base, 3 for the message, 3 priming the reply: what OpenAI bills for it.
    assert estimate_input_tokens(plain) == 14
    assert estimate_input_tokens(with_tool) > estimate_input_tokens(plain)


def test_cost_uses_input_and_expected_output(catalog: Catalog) -> None:
    big = catalog.get("big")
    assert big is not None
    request = ChatRequest(model="m", messages=[], max_tokens=100)
    assert expected_output_tokens(request, big) == 100
    assert expected_output_tokens(ChatRequest(model="m", messages=[]), big) == EXPECTED_OUTPUT_TOKENS
    assert estimate_cost(big, 1000, 100) == pytest.approx((1000 * 10 + 100 * 30) / 1e6)
    free = catalog.get("free")
    assert free is not None and estimate_cost(free, 1000, 100) is None


def test_features_flag_code_math_and_script() -> None:
    names = list(FEATURE_NAMES)
    code = text_features("```python\ndef f(x):\n    return x\n```")
    math = text_features("Solve 3x + 4 = 19 for x, then compute 12 * 7.")
    prose = text_features("Tell me about the history of Kyoto.")
    japanese = text_features("京都の歴史について教えてください")
    assert code[names.index("code")] > prose[names.index("code")]
    assert math[names.index("math")] > prose[names.index("math")]
    assert math[names.index("log_numbers")] > prose[names.index("log_numbers")]
    assert japanese[names.index("non_ascii")] > 5 > prose[names.index("non_ascii")]


def test_multiple_choice_is_told_from_the_text() -> None:
    assert is_multiple_choice("What is 2 + 2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:")
    assert is_multiple_choice("Pick one:\n(a) red\n(b) blue")
    assert not is_multiple_choice("Natalia sold 48 clips in April. How many in May?")
    assert not is_multiple_choice("A. Smith wrote this letter.\nPlease summarise it.")  # one lettered line only


@pytest.mark.parametrize(
    ("text", "family"),
    [
        ("James runs 3 sprints 3 times a week, 60 meters each. How many meters does he run?", WORD_PROBLEM),
        ("Toulouse has twice as many sheep as Charleston. How many if Charleston has 20?", WORD_PROBLEM),
        ("A firm bought $400000 of equipment; 40% was faulty. Calculate what the rest cost.", WORD_PROBLEM),
        ("Suppose I have 12 eggs. I drop 2 and eat 5. How many eggs do I have left?", WORD_PROBLEM),
        ("What is 2 + 2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:", CHOICE),  # options first: a numeric MC question
        ("Tell me about the history of Kyoto.", OPEN),
        ("How many people live in Tokyo?", OPEN),  # asks for a number but gives none
        ("What caused World War 1, and how did it lead to the events of 1914?", OPEN),  # numbers, no quantity asked
        ("Summarise the 2019 report in 3 bullet points.", OPEN),  # numbers, no question
        ("Fix this: each item costs 3.\n```python\ndef total(n):\n    return 3 * n\n```\nWhat is the total?", OPEN),
        ("Rank these:\n1. Paris\n2. Rome\n3. Oslo\nWhich city has the largest number of museums?", OPEN),
        ("Bob has 3 cats and 4 dogs. How many pets does he have? " + "Some context. " * 150, OPEN),  # too long
    ],
)
def test_prompt_family_is_told_from_the_text(text: str, family: int) -> None:
    assert prompt_family(text) == family
