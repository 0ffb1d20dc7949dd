"""An org's labelled requests in one prompt family: what routing is calibrated on, kept small enough to persist.

A label is one request for which both answers were compared (a sampled shadow call, or user feedback): its
prompt embedding, the quality the cheap answer lost against the strong one (a share of the strong model's
quality; negative when the cheap one was better), what the offline model predicted for it (loss and answer
length), how similar it was to the offline model's training prompts, the saving routing it cheap would make as
a function of the answer's length (so it follows the org's learned lengths), and whether it was sampled (1)
or came from feedback (0), which is no random sample: it informs the neighbour estimates, never the bound.
Only the most recent `MAX_LABELS` are kept, so old traffic ages out.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float32]

MAX_LABELS = 1500
DIMENSION = 384  # the local MiniLM's; an org's first label sets the real one
NEIGHBOURS = 30  # labels averaged per estimate
WIDTH = 0.05  # kernel width on cosine similarity
SHRINK = 1.0  # weight of the org mean in every neighbour average
COLUMNS = (
    "loss",
    "offline_loss",
    "offline_similarity",
    "offline_tokens",
    "saving_fixed",
    "saving_per_token",
    "sampled",
)


def _encode(matrix: Matrix) -> dict[str, str]:
    """int8 with one scale per row: cosines move by ~1e-3 and the state shrinks fourfold."""
    scale = (np.abs(matrix).max(axis=1, keepdims=True) / 127.0 + 1e-12).astype(np.float32)
    codes = np.round(matrix / scale).astype(np.int8)
    return {"codes": base64.b64encode(codes.tobytes()).decode(), "scale": base64.b64encode(scale.tobytes()).decode()}


def _decode(data: dict[str, str], dimension: int) -> Matrix:
    codes = np.frombuffer(base64.b64decode(data["codes"]), dtype=np.int8).reshape(-1, dimension)
    scale = np.frombuffer(base64.b64decode(data["scale"]), dtype=np.float32).reshape(-1, 1)
    result: Matrix = (codes * scale).astype(np.float32)
    return result


def kernel_means(similarities: Array, values: Array, prior: float | Array) -> Array:
    """Per row of `similarities` (queries × labels; -inf excludes a label), the kernel-weighted mean of `values`
    over the nearest `NEIGHBOURS` labels, shrunk toward `prior` (one, or one per row) with weight `SHRINK`."""
    rows, count = similarities.shape
    if count == 0:
        return np.broadcast_to(np.asarray(prior, dtype=np.float64), (rows,)).copy()
    k = min(NEIGHBOURS, count)
    nearest = np.argpartition(-similarities, k - 1, axis=1)[:, :k]
    sims = np.take_along_axis(similarities, nearest, axis=1)
    weights = np.exp(np.where(np.isfinite(sims), (sims - np.nanmax(sims, axis=1, keepdims=True)) / WIDTH, -np.inf))
    result: Array = ((weights * values[nearest]).sum(axis=1) + SHRINK * prior) / (weights.sum(axis=1) + SHRINK)
    return result


@dataclass(slots=True)
class Evidence:
    """Labels as parallel arrays (oldest first); append with `add`, persist with `to_json`."""

    embeddings: Matrix = field(default_factory=lambda: np.zeros((0, DIMENSION), np.float32))
    columns: dict[str, Array] = field(default_factory=lambda: {c: np.zeros(0) for c in COLUMNS})

    def __len__(self) -> int:
        return len(self.embeddings)

    def add(self, embedding: npt.NDArray[np.floating[Any]], **values: float) -> None:
        """Append one label (every name in `COLUMNS` given), dropping the oldest beyond `MAX_LABELS`."""
        if set(values) != set(COLUMNS):
            raise ValueError(f"a label needs exactly {COLUMNS}")
        vector = np.asarray(embedding, dtype=np.float32).reshape(1, -1)
        # The first label sets the dimension (the embedder's); an empty state only assumes the default one.
        self.embeddings = np.vstack([self.embeddings, vector])[-MAX_LABELS:] if len(self) else vector
        for name in COLUMNS:
            self.columns[name] = np.append(self.columns[name], float(values[name]))[-MAX_LABELS:]

    def __getitem__(self, name: str) -> Array:
        return self.columns[name]

    def similarities(self, embedding: npt.NDArray[np.floating[Any]]) -> Array:
        """Cosine similarity of one unit embedding to every label."""
        result: Array = (self.embeddings @ np.asarray(embedding, dtype=np.float32)).astype(np.float64)
        return result

    def leave_one_out_similarities(self) -> Array:
        """Label × label cosine similarities with the diagonal excluded (-inf): each label judged by the others."""
        result: Array = (self.embeddings @ self.embeddings.T).astype(np.float64)
        np.fill_diagonal(result, -np.inf)
        return result

    def to_json(self) -> dict[str, Any]:
        return {
            "embeddings": _encode(self.embeddings),
            "dimension": int(self.embeddings.shape[1]),
            **{name: [round(float(v), 6) for v in self.columns[name]] for name in COLUMNS},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evidence:
        embeddings = _decode(data["embeddings"], int(data["dimension"]))
        columns = {name: np.array(data[name], dtype=np.float64) for name in COLUMNS}
        if any(len(v) != len(embeddings) for v in columns.values()):
            raise ValueError("evidence columns and embeddings differ in length")
        return cls(embeddings, columns)
