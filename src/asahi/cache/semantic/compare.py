"""Do two answers to (nearly) the same prompt agree? This turns a verified would-be hit into a label.

Exact text after normalising case, whitespace and punctuation settles most cases for free; otherwise the two
answers are embedded and compared, since two correct LLM answers rarely match word for word.
"""

from __future__ import annotations

import re

from asahi.embeddings.base import Embedder

ANSWER_AGREEMENT = 0.9  # cosine of answer embeddings above which two answers count as the same answer
_NON_WORD = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    return _NON_WORD.sub(" ", text.lower()).strip()


async def answers_agree(cached: str, fresh: str, embedder: Embedder | None = None,
                        threshold: float = ANSWER_AGREEMENT) -> bool:
    if normalise(cached) == normalise(fresh):
        return True
    if embedder is None or not cached.strip() or not fresh.strip():
        return False
    vectors = await embedder.embed([cached, fresh])
    return float(vectors[0] @ vectors[1]) >= threshold
