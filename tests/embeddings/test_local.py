from __future__ import annotations

import numpy as np
import pytest

from asahi.embeddings.local import LocalEmbedder


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    return LocalEmbedder()


def test_unit_vectors_of_the_model_dimension(embedder: LocalEmbedder) -> None:
    vectors = embedder.embed_sync(["How do I reset my password?", "hi"])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_paraphrase_is_closer_than_an_unrelated_question(embedder: LocalEmbedder) -> None:
    a, b, c = embedder.embed_sync(["How do I reset my password?", "How can I change my forgotten password?",
                                   "What is the weather in Paris tomorrow?"])
    assert a @ b > 0.7 > a @ c


def test_a_batch_equals_one_text_at_a_time(embedder: LocalEmbedder) -> None:
    texts = ["short", "a somewhat longer sentence about bank transfers and card fees", "hi there"] * 12
    batch = embedder.embed_sync(texts)
    single = np.stack([embedder.embed_sync([t])[0] for t in texts])
    assert np.allclose(batch, single, atol=1e-5)


async def test_async_and_empty(embedder: LocalEmbedder) -> None:
    assert (await embedder.embed([])).shape == (0, 384)
    assert (await embedder.embed(["hello"])).shape == (1, 384)


async def test_concurrent_single_texts_are_batched_and_match_one_by_one() -> None:
    import asyncio

    import numpy as np

    from asahi.embeddings.factory import shared_minilm

    embedder = shared_minilm()
    texts = [f"question {i} about resetting a password" for i in range(40)]
    together = await asyncio.gather(*(embedder.embed([text]) for text in texts))
    alone = embedder.embed_sync(texts)
    assert all(vector.shape == (1, 384) for vector in together)
    assert np.allclose(np.vstack(together), alone, atol=1e-5)


async def test_a_cancelled_caller_does_not_strand_the_others() -> None:
    import asyncio

    from asahi.embeddings.factory import shared_minilm

    embedder = shared_minilm()
    tasks = [asyncio.create_task(embedder.embed([f"text {i}"])) for i in range(20)]
    await asyncio.sleep(0)
    tasks[0].cancel()
    results = await asyncio.gather(*tasks[1:])
    assert len(results) == 19


def test_the_model_loads_on_the_first_text_not_before() -> None:
    embedder = LocalEmbedder()
    assert not embedder.loaded
    assert embedder.embed_sync([]).shape == (0, 384) and not embedder.loaded
    embedder.embed_sync(["hello"])
    assert embedder.loaded
