from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asahi.embeddings.local import LocalEmbedder
from asahi.embeddings.static import StaticEmbedder


@pytest.fixture(scope="module")
def embedder() -> StaticEmbedder:
    return StaticEmbedder()


def test_unit_vectors_of_the_table_dimension(embedder: StaticEmbedder) -> None:
    vectors = embedder.embed_sync(["How do I reset my password?", "hi", "😀"])
    assert vectors.shape == (3, 128) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_paraphrase_is_closer_than_an_unrelated_question(embedder: StaticEmbedder) -> None:
    a, b, c = embedder.embed_sync(["How do I reset my password?", "How can I change my forgotten password?",
                                   "What is the weather in Paris tomorrow?"])
    assert a @ b > 0.8 > 0.4 > a @ c


def test_it_ranks_neighbours_as_minilm_does() -> None:
    """The table is distilled from MiniLM: on a small mixed set, each text's nearest neighbour agrees."""
    texts = ["How do I reset my password?", "I forgot my password, how can I change it?",
             "What is the weather in Paris tomorrow?", "Will it rain in Paris tomorrow?",
             "How do I cancel a card payment?", "Can I stop a payment I made with my card?",
             "Recommend a good science fiction novel", "What sci-fi book should I read next?"]
    static = StaticEmbedder().embed_sync(texts)
    minilm = LocalEmbedder().embed_sync(texts)

    def nearest(vectors: np.ndarray) -> list[int]:
        sims = vectors @ vectors.T
        np.fill_diagonal(sims, -1)
        return [int(i) for i in sims.argmax(axis=1)]

    assert nearest(static) == nearest(minilm) == [1, 0, 3, 2, 5, 4, 7, 6]


def test_a_batch_equals_one_text_at_a_time_and_long_texts_are_cut(embedder: StaticEmbedder) -> None:
    texts = ["short", "a somewhat longer sentence about bank transfers and card fees", "word " * 1000]
    single = np.stack([embedder.embed_sync([t])[0] for t in texts])
    assert np.allclose(embedder.embed_sync(texts), single, atol=1e-6)
    assert np.allclose(embedder.embed_sync(["word " * 5000])[0], single[2], atol=1e-6)


def test_the_name_carries_the_table(embedder: StaticEmbedder, tmp_path: Path) -> None:
    from asahi.embeddings.static import TABLE_PATH

    with np.load(TABLE_PATH) as data:
        pieces, scale = data["pieces"].copy(), data["scale"].copy()
    pieces[1000, 0] += 1
    other = tmp_path / "other.npz"
    np.savez(other, pieces=pieces, scale=scale)
    assert embedder.name.startswith("static:minilm-128-") and StaticEmbedder(other).name != embedder.name


async def test_async_and_empty(embedder: StaticEmbedder) -> None:
    assert (await embedder.embed([])).shape == (0, 128)
    assert (await embedder.embed(["hello"])).shape == (1, 128)
