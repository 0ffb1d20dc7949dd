"""How far prompt-token estimates are from the counts providers bill, and what counting costs per request.

    python bench/token_estimates.py [--data ../shared/data] [--per-set 2000] [--claude-tokenizer PATH] [--write-docs]

Reads the prompts in ../shared/data (ShareGPT user turns, Arena-Hard, MMLU, GSM8K, AlpacaEval, Banking77,
CLINC150) as one-message chat requests and compares, per provider, characters / 4 (the old estimate) and
`estimate_input_tokens` (the current one) with the reference count:
- OpenAI: the exact count OpenAI bills for a chat prompt: the text in the model's own encoding (o200k_base for
  gpt-4o / gpt-4.1 / gpt-5, cl100k_base for gpt-4 / gpt-3.5) plus 3 tokens per message and 3 priming the reply.
- Anthropic: Claude's current tokenizer is not published, so there is no offline ground truth. With
  `--claude-tokenizer` pointing at the last tokenizer Anthropic did publish (`anthropic/tokenizer.json` in the
  `anthropic` 0.37 wheel on PyPI), the same comparison is made against it, as the nearest public proxy.
Then times `estimate_input_tokens` on the ShareGPT prompts, the first time a text is seen and when it is
remembered (the second estimate of the same request). `--write-docs` rewrites the figures in docs/tokens.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import shlex
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from asahi.domain import ChatRequest, Message, TextPart
from asahi.routing.cost import MESSAGE_OVERHEAD_TOKENS, REPLY_PRIMING_TOKENS, estimate_input_tokens
from asahi.routing.tokens import counter, encoding

ROOT = Path(__file__).resolve().parent.parent
SETS = {
    "sharegpt_prompts": "text", "arena_hard_prompts": "prompt", "routellm_mmlu": "prompt",
    "routellm_gsm8k": "prompt", "alpacaeval_vs_gpt4turbo": "instruction", "banking77": "text", "clinc150": "text",
}
OLD_OVERHEAD = 4  # the old estimate: characters / 4 plus 4 per message


def prompts(data: Path, per_set: int) -> list[str]:
    texts: list[str] = []
    for folder, column in SETS.items():
        with (data / folder / "dev.jsonl").open() as rows:
            for i, line in enumerate(rows):
                if i >= per_set:
                    break
                text = json.loads(line)[column]
                if text:
                    texts.append(text)
    return texts


def request(text: str, model: str) -> ChatRequest:
    return ChatRequest(model=model, messages=[Message("user", [TextPart(text)])])


def old_estimate(text: str) -> int:
    return -(-len(text) // 4) + OLD_OVERHEAD


def errors(texts: list[str], truth: Callable[[str], int], estimate: Callable[[str], int]) -> dict[str, float]:
    relative = [(estimate(t) - truth(t)) / truth(t) for t in texts]
    absolute = sorted(abs(r) for r in relative)
    return {
        "mean_abs": statistics.fmean(absolute) * 100,
        "p50_abs": absolute[len(absolute) // 2] * 100,
        "p90_abs": absolute[int(len(absolute) * 0.9)] * 100,
        "bias": statistics.fmean(relative) * 100,
    }


def chat_truth(name: str) -> Callable[[str], int]:
    bpe = encoding(name)
    assert bpe is not None, f"{name} must load offline"
    return lambda text: len(bpe.encode_ordinary(text)) + MESSAGE_OVERHEAD_TOKENS + REPLY_PRIMING_TOKENS


def claude_truth(path: Path) -> Callable[[str], int]:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    return lambda text: len(tokenizer.encode(text).ids) + MESSAGE_OVERHEAD_TOKENS + REPLY_PRIMING_TOKENS


def timing(texts: list[str]) -> dict[str, float]:
    counter.cache_clear()  # fresh counters: the error figures above already counted these texts
    first, again = [], []
    for text in texts:
        chat = request(text, "gpt-4o-mini")
        started = time.perf_counter()
        estimate_input_tokens(chat)
        first.append(time.perf_counter() - started)
        started = time.perf_counter()
        estimate_input_tokens(chat)
        again.append(time.perf_counter() - started)
    first.sort()
    again.sort()
    return {"first_p50_us": first[len(first) // 2] * 1e6, "first_p99_us": first[int(len(first) * 0.99)] * 1e6,
            "again_p50_us": again[len(again) // 2] * 1e6,
            "mean_chars": statistics.fmean(len(t) for t in texts)}


def table(results: list[tuple[str, str, str, dict[str, float]]]) -> str:
    lines = ["| provider (reference) | model | estimate | mean abs. error | p50 | p90 | bias |",
             "|---|---|---|---|---|---|---|"]
    for provider, model, name, e in results:
        lines.append(f"| {provider} | {model} | {name} | {e['mean_abs']:.1f}% | {e['p50_abs']:.1f}% | "
                     f"{e['p90_abs']:.1f}% | {e['bias']:+.1f}% |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--per-set", type=int, default=2000)
    parser.add_argument("--claude-tokenizer", type=Path)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    texts = prompts(args.data, args.per_set)
    results: list[tuple[str, str, str, dict[str, float]]] = []
    for model, name in (("gpt-4o-mini", "o200k_base"), ("gpt-4", "cl100k_base")):
        truth = chat_truth(name)
        results.append((f"OpenAI ({name})", model, "characters / 4", errors(texts, truth, old_estimate)))
        results.append((f"OpenAI ({name})", model, "BPE (current)",
                        errors(texts, truth, lambda t, m=model: estimate_input_tokens(request(t, m)))))
    if args.claude_tokenizer is not None:
        truth = claude_truth(args.claude_tokenizer)
        model = "claude-haiku-4-5"
        results.append(("Anthropic (Claude 2 tokenizer, proxy)", model, "characters / 4",
                        errors(texts, truth, old_estimate)))
        results.append(("Anthropic (Claude 2 tokenizer, proxy)", model, "BPE (current)",
                        errors(texts, truth, lambda t: estimate_input_tokens(request(t, model)))))
    speed = timing(texts[: args.per_set])  # the ShareGPT prompts come first
    # The data folder is where this checkout keeps ../shared/data, not a setting of the figures.
    command = f"python bench/token_estimates.py --per-set {args.per_set}"
    if args.claude_tokenizer is not None:
        command += f" --claude-tokenizer {shlex.quote(args.claude_tokenizer.name)}"
    body = (
        f"{len(texts)} prompts ({', '.join(SETS)}; up to {args.per_set} each). Python {platform.python_version()}, "
        f"{platform.machine()}. Command: `{command}`\n\n{table(results)}\n\n"
        f"Counting cost per request (`estimate_input_tokens`, ShareGPT prompts, mean {speed['mean_chars']:.0f} "
        f"characters): first sight p50 {speed['first_p50_us']:.1f} µs, p99 {speed['first_p99_us']:.1f} µs; "
        f"the same text again (the request's later estimates, a repeated system prompt) p50 "
        f"{speed['again_p50_us']:.1f} µs."
    )
    print(body)
    if args.write_docs:
        path = ROOT / "docs" / "tokens.md"
        text = path.read_text()
        text = re.sub(r"(<!-- bench:token_estimates -->\n).*?(<!-- /bench -->)",
                      lambda m: m[1] + body + "\n" + m[2], text, flags=re.S)
        path.write_text(text)


if __name__ == "__main__":
    main()
