"""The fast embedder: a static table distilled from the shipped MiniLM, one 128-d row per wordpiece.

A text's vector is the normalised sum of its wordpieces' rows, so embedding is a tokeniser call and one small
matrix-vector product: tens of microseconds, on the event loop, with no thread and no model to load. It ranks
paraphrases well below MiniLM (docs/semantic-cache.md), so tier 2 uses it to find candidates and MiniLM to
confirm the few that come close (`asahi.cache.semantic.confirm`).

The table ships as src/asahi/embeddings/minilm-static.npz (built by scripts/build_static_embeddings.py from the
model and tokenizer alone). Its name carries a digest of the table: entries stored under another table are never
compared with these vectors.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from asahi.embeddings.base import EmbeddingError, Vectors, normalise

TABLE_PATH = Path(__file__).with_name("minilm-static.npz")
TOKENIZER_PATH = Path(__file__).with_name("minilm-tokenizer.json")
MAX_PIECES = 256  # as MiniLM: what a prompt says beyond its first 256 pieces does not move its vector


class StaticEmbedder:
    def __init__(self, path: Path = TABLE_PATH) -> None:
        with np.load(path) as data:
            self._pieces: np.ndarray = data["pieces"]  # int8, dequantised per row on use: 4 MB resident
            self._scale: np.ndarray = data["scale"]
        digest = hashlib.sha256(self._pieces.tobytes() + self._scale.tobytes()).hexdigest()
        self.dimension = int(self._pieces.shape[1])
        self.name = f"static:minilm-{self.dimension}-{digest[:10]}"
        self._tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
        self._tokenizer.enable_truncation(MAX_PIECES)
        self._tokenizer.no_padding()

    def _vector(self, ids: list[int]) -> np.ndarray:
        # The scale-weighted sum of int8 rows is one matrix-vector product.
        summed: np.ndarray = self._scale[ids] @ self._pieces[ids].astype(np.float32)
        return summed

    def embed_sync(self, texts: list[str]) -> Vectors:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        try:
            if len(texts) == 1:
                encodings = [self._tokenizer.encode(texts[0], add_special_tokens=False)]
            else:
                encodings = self._tokenizer.encode_batch(texts, add_special_tokens=False)
        except Exception as exc:  # the tokeniser raises its own types; any failure means "skip tier 2"
            raise EmbeddingError(f"static embedder failed: {exc}") from exc
        for row, encoding in enumerate(encodings):
            if encoding.ids:
                out[row] = self._vector(encoding.ids)
        return normalise(out)

    async def embed(self, texts: list[str]) -> Vectors:
        """Runs inline: a thread hop would cost more than the work."""
        return self.embed_sync(texts)

    async def aclose(self) -> None:
        return None
