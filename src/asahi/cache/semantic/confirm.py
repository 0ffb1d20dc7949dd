"""The second stage of a two-stage lookup: MiniLM similarities for the candidates the static search found close.

The static table ranks paraphrases well enough to find candidates but not to decide on them (docs/semantic-
cache.md), so the policy decides on MiniLM's cosine. MiniLM runs only when some candidate's static cosine reaches
the gate, which follows the lowest similarity the org's policy could serve at: below it no candidate comes near a
hit, so most misses never run the model.

How far static cosines run above MiniLM's depends on the text: summed over a long prompt, the static vectors of
two unrelated prompts share their common words, and long prompts score high with each other. So the gate also
learns from what confirmations turned up: per prompt length and static cosine, a cell whose recent confirmations
rarely found a candidate at a servable similarity stops confirming, except for one lookup in EXPLORE_EVERY that keeps
its record current.

An entry's MiniLM vector is kept with it. It is the prompt's own vector when its lookup ran a confirmation (the
usual case for an entry in a busy neighbourhood); otherwise it is computed the first time a lookup needs it, in
the same call as the new prompt's, so an entry that nothing ever comes close to never costs a MiniLM run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from asahi.cache.vectors.base import Vector
from asahi.embeddings.base import Embedder

# Near the top, a pair's static cosine sits up to ~0.1 below its MiniLM cosine (5th percentile on the eval's sets),
# so a candidate is confirmed when its static cosine comes within that margin of the lowest similarity the org's
# policy could serve at; never above the upper gate (a new org must still collect labels), nor below the lower.
GATE_MARGIN = 0.1
GATE_RANGE = (0.65, 0.9)
LENGTHS = (80, 300)  # prompt length cells, in characters: short questions, a paragraph, longer
SCORE_STEP = 0.025  # static cosine cells above the lower gate
MIN_RUNS = 20.0  # confirmations a cell needs before its record counts
MIN_USEFUL = 0.05  # below this share of useful confirmations a cell stops confirming
EXPLORE_EVERY = 20
RECORD_WINDOW = 2000  # confirmations per cell over which its record decays


class Candidate(Protocol):
    """What a confirmation needs of a cached entry (`SemanticEntry` is one)."""

    text: str
    confirm_vector: Vector | None


@dataclass(slots=True, frozen=True)
class Confirmed:
    """The prompt's MiniLM vector and each candidate's MiniLM cosine to it (None: below the gate, dropped)."""

    vector: Vector
    similarities: list[float | None]


class Confirmation:
    def __init__(self, model: Embedder, margin: float = GATE_MARGIN,
                 gate_range: tuple[float, float] = GATE_RANGE) -> None:
        self.model = model
        self.margin = margin
        self.gate_range = gate_range
        cells = (len(LENGTHS) + 1, int(np.ceil((1.0 - gate_range[0]) / SCORE_STEP)) + 1)
        self._runs = np.zeros(cells)  # decayed confirmations per (length, static cosine) cell
        self._useful = np.zeros(cells)  # and how many of them found a candidate at a servable similarity
        self._skipped = 0

    def _cell(self, text: str, score: float) -> tuple[int, int]:
        length = int(np.searchsorted(LENGTHS, len(text)))
        return length, min(int((score - self.gate_range[0]) / SCORE_STEP), self._runs.shape[1] - 1)

    def _worth(self, cell: tuple[int, int]) -> bool:
        runs = self._runs[cell]
        if runs < MIN_RUNS or self._useful[cell] >= MIN_USEFUL * runs:
            return True
        self._skipped += 1
        return self._skipped % EXPLORE_EVERY == 0

    def _record(self, cell: tuple[int, int], useful: bool) -> None:
        decay = 1 - 1 / RECORD_WINDOW
        self._runs[cell] = self._runs[cell] * decay + 1
        self._useful[cell] = self._useful[cell] * decay + useful

    def gate(self, lowest_servable: float) -> float:
        low, high = self.gate_range
        return min(max(lowest_servable - self.margin, low), high)

    async def confirm(self, text: str, candidates: Sequence[tuple[Candidate, float]],
                      lowest_servable: float) -> Confirmed | None:
        """None when no candidate's static cosine reaches the gate: then nothing is embedded. Raises
        EmbeddingError."""
        gate = self.gate(lowest_servable)
        close = [entry for entry, score in candidates if score >= gate]
        if not close:
            return None
        cell = self._cell(text, max(score for _, score in candidates))
        if not self._worth(cell):
            return None
        missing = [entry for entry in close if entry.confirm_vector is None]
        vectors = await self.model.embed([text, *(entry.text for entry in missing)])
        for entry, vector in zip(missing, vectors[1:], strict=True):
            entry.confirm_vector = vector
        query = vectors[0]
        similarities = [
            float(np.dot(query, entry.confirm_vector)) if score >= gate and entry.confirm_vector is not None
            else None
            for entry, score in candidates
        ]
        self._record(cell, max(s for s in similarities if s is not None) >= lowest_servable)
        return Confirmed(query, similarities)
