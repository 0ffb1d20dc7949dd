"""The embedder interface: text in, L2-normalised float32 vectors out."""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    name: str
    dimension: int

    async def embed(self, texts: list[str]) -> Vectors:
        """Return one unit-length row per text, shape (len(texts), dimension)."""
        ...

    async def aclose(self) -> None: ...
