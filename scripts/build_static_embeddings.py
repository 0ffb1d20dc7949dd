"""Build the static embedding table tier 2 searches with: MiniLM distilled into one vector per wordpiece.

The model2vec idea, on onnxruntime only (no torch, no training data): each of MiniLM's 30,522 wordpieces goes
through the shipped model on its own, as `[SEP] piece [CLS]` (this order beat `[CLS] piece [SEP]` in our eval, as
model2vec also found), and the three outputs are averaged. PCA (centred, on the table itself) keeps 128
components: on the eval's neighbour search 128 matched 256 and beat 64. Rows are then weighted by SIF with
frequencies guessed from the vocabulary order (Zipf: lower ids are commoner pieces), so frequent words count less
in a sum, and stored as int8 with one scale per row (no measurable loss). A text's vector is the normalised sum
of its pieces' rows (`asahi.embeddings.static`).

Nothing is fitted on any data set: the inputs are the wheel's model and the tokenizer shipped with Asahi, so the
result is the same on every machine up to float rounding. Takes ~30 s on one core.

    python scripts/build_static_embeddings.py [--out src/asahi/embeddings/minilm-static.npz]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from asahi.embeddings.local import TOKENIZER_PATH, _model_path
from asahi.embeddings.static import TABLE_PATH

DIMENSION = 128
SIF = 1e-4  # model2vec's default; 3e-5..3e-4 changed the eval's figures by < 0.01
BATCH = 1024
CLS, SEP = 101, 102


def token_outputs(model: Path, vocab_size: int) -> np.ndarray:
    """Mean of MiniLM's outputs over `[SEP] piece [CLS]`, for every piece id."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    out = np.empty((vocab_size, 384), dtype=np.float32)
    for start in range(0, vocab_size, BATCH):
        ids = np.arange(start, min(vocab_size, start + BATCH), dtype=np.int64)
        batch = np.stack([np.full_like(ids, SEP), ids, np.full_like(ids, CLS)], axis=1)
        (hidden,) = session.run(["last_hidden_state"], {
            "input_ids": batch, "attention_mask": np.ones_like(batch), "token_type_ids": np.zeros_like(batch)})
        out[start : start + len(ids)] = hidden.mean(axis=1)
    return out


def reduce(rows: np.ndarray, dimension: int) -> np.ndarray:
    """Centred PCA, each component's sign fixed so that the build is reproducible."""
    centred = rows - rows.mean(axis=0)
    _, _, components = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    components = components[:dimension]
    components *= np.sign(components[np.arange(dimension), np.abs(components).argmax(axis=1)])[:, None]
    return centred @ components.T


def sif_weights(vocab_size: int, coefficient: float) -> np.ndarray:
    inverse_rank = 1.0 / np.arange(2, vocab_size + 2)
    probability = inverse_rank / inverse_rank.sum()
    weights: np.ndarray = coefficient / (coefficient + probability)
    return weights


def quantise(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    scale = np.abs(table).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    return np.round(table / scale[:, None]).astype(np.int8), scale.astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=TABLE_PATH)
    args = parser.parse_args()
    model = _model_path()
    vocab_size = Tokenizer.from_file(str(TOKENIZER_PATH)).get_vocab_size()
    started = time.perf_counter()
    rows = token_outputs(model, vocab_size)
    table = reduce(rows, DIMENSION) * sif_weights(vocab_size, SIF)[:, None]
    pieces, scale = quantise(table)
    np.savez_compressed(
        args.out, pieces=pieces, scale=scale,
        model_sha256=np.array(hashlib.sha256(model.read_bytes()).hexdigest()),
        tokenizer_sha256=np.array(hashlib.sha256(TOKENIZER_PATH.read_bytes()).hexdigest()),
    )
    digest = hashlib.sha256(pieces.tobytes() + scale.tobytes()).hexdigest()
    print(f"{args.out}: {pieces.shape[0]} x {pieces.shape[1]} int8, {args.out.stat().st_size / 1e6:.2f} MB, "
          f"{time.perf_counter() - started:.0f} s, table sha256 {digest}", file=sys.stderr)


if __name__ == "__main__":
    main()
