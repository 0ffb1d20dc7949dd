"""A generated miniature of the routing data folder, so no test reads the real data sets."""

from __future__ import annotations

import json
import random
from pathlib import Path

PRICES = """model,litellm_key,match,provider,input_usd_per_1m_tokens,output_usd_per_1m_tokens
gpt-4-1106-preview,gpt-4-1106-preview,exact,openai,10.0,30.0
mistralai/Mixtral-8x7B-Instruct-v0.1,x,exact,together_ai,0.6,0.6
"""
TOPICS = ["algebra", "history", "biology", "poetry", "chemistry", "law"]


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def make_data(root: Path, rows: int = 30, seed: int = 0) -> Path:
    rng = random.Random(seed)
    (root / "model_prices").mkdir(parents=True, exist_ok=True)
    (root / "model_prices" / "model_prices.csv").write_text(PRICES, encoding="utf-8")
    mmlu, gsm8k, alpaca = [], [], []
    for i in range(rows):
        topic = rng.choice(TOPICS)
        hard = topic in ("algebra", "law")
        mmlu.append(
            {
                "id": f"m{i}",
                "subject": topic,
                "prompt": f"A {topic} question number {i}?\nA. x\nB. y\nAnswer:",
                "correct_mixtral_8x7b": (not hard) and rng.random() < 0.9,
                "correct_gpt4_1106": rng.random() < 0.9,
                "contaminated": i == 0,
            }
        )
        gsm8k.append(
            {
                "id": i,
                "prompt": f"Tom has {i} apples and buys {i + 3} more about {topic}. How many?",
                "correct_mixtral_8x7b": rng.random() < 0.6,
                "correct_gpt4_1106": rng.random() < 0.9,
                "response_mixtral_8x7b": "x" * rng.randint(50, 300),
                "response_gpt4_1106": "y" * rng.randint(50, 400),
                "contaminated": False,
            }
        )
        alpaca.append(
            {
                "instruction_id": i,
                "instruction": f"Write about {topic} {i}",
                "dataset": "oasst",
                "baseline_model": "gpt4_1106_preview",
                "baseline_output_chars": 900,
                "models": {
                    "Mixtral-8x7B-Instruct-v0.1_concise": {"p_beats_baseline": rng.random(), "output_chars": 500}
                },
            }
        )
    _write(root / "routellm_mmlu" / "dev.jsonl", mmlu)
    _write(root / "routellm_gsm8k" / "dev.jsonl", gsm8k)
    _write(root / "alpacaeval_vs_gpt4turbo" / "dev.jsonl", alpaca)
    return root
