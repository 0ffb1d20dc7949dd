"""The second stage of a two-stage lookup: MiniLM similarities for the candidates the static search found close.

The static table ranks paraphrases well enough to find candidates but not to decide on them (docs/semantic-
cache.md), so the policy decides on MiniLM's cosine. MiniLM runs only when some candidate's static cosine reaches
the gate: below it no candidate comes near the similarities at which the policy serves or learns, so most misses
never run the model.

An entry's MiniLM vector is kept with it. It is the prompt's own vector when its lookup ran a confirmation (the
usual case for an entry in a busy neighbourhood); otherwise it is computed the first time a lookup needs it, in
the same call as the new prompt's, so an entry that nothing ever comes close to never costs a MiniLM run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from asahi.embeddings.base import Embedder

if TYPE_CHECKING:
    from asahi.cache.semantic.cache import SemanticEntry
    from asahi.cache.vectors.base import Vector

GATE = 0.75  # static cosine below which a candidate is not worth a MiniLM run (chosen in bench/semantic_eval.py)


@dataclass(slots=True, frozen=True)
class Confirmed:
    """The prompt's MiniLM vector and each candidate's MiniLM cosine to it (None: below the gate, dropped)."""

    vector: Vector
    similarities: list[float | None]


class Confirmation:
    def __init__(self, model: Embedder, gate: float = GATE) -> None:
        self.model = model
        self.gate = gate

    async def confirm(self, text: str, candidates: Sequence[tuple[SemanticEntry, float]]) -> Confirmed | None:
        """None when no candidate reaches the gate: then nothing is embedded. Raises EmbeddingError."""
        close = [entry for entry, score in candidates if score >= self.gate]
        if not close:
            return None
        missing = [entry for entry in close if entry.confirm_vector is None]
        vectors = await self.model.embed([text, *(entry.text for entry in missing)])
        for entry, vector in zip(missing, vectors[1:], strict=True):
            entry.confirm_vector = vector
        query = vectors[0]
        return Confirmed(query, [
            float(np.dot(query, entry.confirm_vector)) if score >= self.gate and entry.confirm_vector is not None
            else None
            for entry, score in candidates
        ])
