"""The embedder interface: text in, L2-normalised float32 vectors out."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class EmbeddingError(Exception):
    """The embedder failed (model error, provider down, bad response). Callers skip tier 2 for the request."""


class EmbeddingRefused(EmbeddingError):
    """An embeddings provider answered with an error status; `status` says which, `reason` what it said."""

    def __init__(self, provider: str, status: int, message: str) -> None:
        super().__init__(f"{provider} refused the request ({status}: {message})")
        self.status = status
        self.reason = message


class KeyRejected(EmbeddingError):
    """The embedding provider refused the credential (401/403): retrying will not help."""


class Embedder(Protocol):
    name: str
    dimension: int

    async def embed(self, texts: list[str]) -> Vectors:
        """Return one unit-length row per text, shape (len(texts), dimension). Raises EmbeddingError."""
        ...

    async def aclose(self) -> None: ...


def normalise(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: Vectors = (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)
    return unit
