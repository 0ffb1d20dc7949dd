"""The public routing sets as one shape: a prompt, how good the cheap and strong model were on it, what each cost.

Training and the benchmark both read the data through here, so they agree on labels, costs and on which rows
are held back. Every set compares the same pair, Mixtral-8x7B (cheap) against GPT-4 Turbo (strong), which is
what lets one learned model serve all of them. Costs use list prices from `model_prices.csv` and a len/4 token
estimate of the prompt and of the answer where the set records it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asahi.routing.cost import tokens_from_chars

CHEAP_MODEL = "mistralai/Mixtral-8x7B-Instruct-v0.1"
STRONG_MODEL = "gpt-4-1106-preview"
# AlpacaEval's Mixtral run is its "concise" prompt variant of the same model, billed at the same price.
ALPACA_CHEAP = "Mixtral-8x7B-Instruct-v0.1_concise"
# The judge's win probability of GPT-4 Turbo against itself.
ALPACA_STRONG_QUALITY = 0.5
# MMLU is scored on the answer letter alone.
MMLU_OUTPUT_TOKENS = 1
# MT-Bench keeps no answer lengths; both models are assumed to write this much, so cost follows price.
MTBENCH_OUTPUT_TOKENS = 400

# AlpacaEval data is CC BY-NC: it is scored as an unseen set and never trained into the shipped model.
EVALUATION_ONLY = frozenset({"alpacaeval"})


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per 1M tokens of the cheap and the strong model."""

    cheap_input: float
    cheap_output: float
    strong_input: float
    strong_output: float

    def cheap(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.cheap_input + output_tokens * self.cheap_output) / 1e6

    def strong(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.strong_input + output_tokens * self.strong_output) / 1e6


@dataclass(frozen=True, slots=True)
class RoutingExample:
    dataset: str
    text: str  # what the router sees: the last user turn
    cheap_quality: float
    strong_quality: float
    cheap_cost: float  # USD
    strong_cost: float
    contaminated: bool  # RouteLLM trained on this prompt: train on it if useful, never score on it
    # Known before the call: the tokens billed as input (the whole conversation so far, not only `text`).
    input_tokens: int = 0
    # Known only after it: how long each model's answer was, in tokens. Training data for the answer-length
    # estimate; never an input to a routing score.
    cheap_output_tokens: int = 0
    strong_output_tokens: int = 0


def load_prices(data_dir: Path) -> Prices:
    with (data_dir / "model_prices" / "model_prices.csv").open(newline="", encoding="utf-8") as f:
        table = {row["model"]: row for row in csv.DictReader(f)}

    def price(model: str, column: str) -> float:
        return float(table[model][column])

    return Prices(
        cheap_input=price(CHEAP_MODEL, "input_usd_per_1m_tokens"),
        cheap_output=price(CHEAP_MODEL, "output_usd_per_1m_tokens"),
        strong_input=price(STRONG_MODEL, "input_usd_per_1m_tokens"),
        strong_output=price(STRONG_MODEL, "output_usd_per_1m_tokens"),
    )


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def _correctness(
    name: str, path: Path, prices: Prices, answer_tokens: Callable[[dict[str, Any]], tuple[int, int]]
) -> Iterator[RoutingExample]:
    """Rows that record whether each model answered correctly; `answer_tokens` gives (cheap, strong) answer sizes."""
    for row in _rows(path):
        tokens = tokens_from_chars(len(row["prompt"]))
        cheap_out, strong_out = answer_tokens(row)
        yield RoutingExample(
            name,
            row["prompt"],
            float(row["correct_mixtral_8x7b"]),
            float(row["correct_gpt4_1106"]),
            prices.cheap(tokens, cheap_out),
            prices.strong(tokens, strong_out),
            bool(row["contaminated"]),
            tokens,
            cheap_out,
            strong_out,
        )


def _mmlu(path: Path, prices: Prices) -> Iterator[RoutingExample]:
    return _correctness("mmlu", path, prices, lambda _row: (MMLU_OUTPUT_TOKENS, MMLU_OUTPUT_TOKENS))


def _gsm8k(path: Path, prices: Prices) -> Iterator[RoutingExample]:
    return _correctness(
        "gsm8k", path, prices,
        lambda row: (tokens_from_chars(len(row["response_mixtral_8x7b"])),
                     tokens_from_chars(len(row["response_gpt4_1106"]))),
    )


def _mtbench(path: Path, prices: Prices) -> Iterator[RoutingExample]:
    for row in _rows(path):
        context = 0
        for turn, text in enumerate(row["turns"], start=1):
            cheap, strong = row[f"score_mixtral_8x7b_turn{turn}"], row[f"score_gpt4_1106_turn{turn}"]
            # A later turn is billed for the whole conversation before it.
            context += tokens_from_chars(len(text))
            if cheap is not None and strong is not None:
                yield RoutingExample(
                    "mtbench",
                    text,
                    float(cheap),
                    float(strong),
                    prices.cheap(context, MTBENCH_OUTPUT_TOKENS),
                    prices.strong(context, MTBENCH_OUTPUT_TOKENS),
                    bool(row["contaminated"]),
                    context,
                    MTBENCH_OUTPUT_TOKENS,
                    MTBENCH_OUTPUT_TOKENS,
                )
            context += MTBENCH_OUTPUT_TOKENS


def _alpacaeval(path: Path, prices: Prices) -> Iterator[RoutingExample]:
    for row in _rows(path):
        cheap = row["models"].get(ALPACA_CHEAP)
        if cheap is None:
            continue
        tokens = tokens_from_chars(len(row["instruction"]))
        cheap_out = tokens_from_chars(int(cheap["output_chars"]))
        strong_out = tokens_from_chars(int(row["baseline_output_chars"]))
        yield RoutingExample(
            "alpacaeval",
            row["instruction"],
            float(cheap["p_beats_baseline"]),
            ALPACA_STRONG_QUALITY,
            prices.cheap(tokens, cheap_out),
            prices.strong(tokens, strong_out),
            False,
            tokens,
            cheap_out,
            strong_out,
        )


def _arena(path: Path, prices: Prices) -> Iterator[RoutingExample]:
    for row in _rows(path):
        cheap, strong = row["scores"].get(CHEAP_MODEL), row["scores"].get(STRONG_MODEL)
        if cheap is None or strong is None:
            continue
        tokens = tokens_from_chars(len(row["prompt"]))
        cheap_out = tokens_from_chars(int(row["answer_chars"][CHEAP_MODEL]))
        strong_out = tokens_from_chars(int(row["answer_chars"][STRONG_MODEL]))
        yield RoutingExample(
            "arena",
            row["prompt"],
            float(cheap),
            float(strong),
            prices.cheap(tokens, cheap_out),
            prices.strong(tokens, strong_out),
            False,
            tokens,
            cheap_out,
            strong_out,
        )


_LOADERS = {
    "mmlu": ("routellm_mmlu", _mmlu),
    "gsm8k": ("routellm_gsm8k", _gsm8k),
    "mtbench": ("routellm_mtbench", _mtbench),
    "alpacaeval": ("alpacaeval_vs_gpt4turbo", _alpacaeval),
    "arena": ("arena_bench_v1_scores", _arena),
}


@dataclass(frozen=True, slots=True)
class AnsweredExample:
    """A word problem with both models' full answers and whether each was right: what the cascade's verifier
    learns from (GSM8K is the one set that ships the answers)."""

    question: str
    cheap_answer: str
    strong_answer: str
    cheap_correct: bool
    strong_correct: bool


def load_answers(data_dir: Path) -> list[AnsweredExample]:
    """GSM8K's rows with both answers, in file order; none when the set is absent."""
    path = data_dir / "routellm_gsm8k" / "dev.jsonl"
    if not path.exists():
        return []
    return [
        AnsweredExample(
            row["prompt"],
            row["response_mixtral_8x7b"],
            row["response_gpt4_1106"],
            bool(row["correct_mixtral_8x7b"]),
            bool(row["correct_gpt4_1106"]),
        )
        for row in _rows(path)
    ]


def load_examples(data_dir: Path) -> list[RoutingExample]:
    """Every routing set found under `data_dir`; a missing folder is skipped so small test folders work."""
    prices = load_prices(data_dir)
    examples: list[RoutingExample] = []
    for folder, loader in _LOADERS.values():
        path = data_dir / folder / "dev.jsonl"
        if path.exists():
            examples.extend(loader(path, prices))
    return examples
