from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from asahi.embeddings.base import EmbeddingError
from asahi.embeddings.cohere import CohereEmbedder
from tests.fakes.cohere_server import FakeCohere


@pytest.fixture(scope="module")
def server() -> Iterator[FakeCohere]:
    with FakeCohere() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeCohere) -> FakeCohere:
    server.requests.clear()
    return server


async def test_embeds_queries_as_unit_vectors(fake: FakeCohere) -> None:
    embedder = CohereEmbedder(fake.api_key, base_url=fake.base_url, max_retries=0)
    vectors = await embedder.embed(["reset my password", "reset my password please", "weather in Paris"])
    await embedder.aclose()
    assert vectors.shape == (3, 1024) and embedder.dimension == 1024
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    sent = fake.last
    assert sent.path == "/v2/embed"
    assert sent.headers["authorization"] == f"Bearer {fake.api_key}"
    assert sent.body["model"] == "embed-english-v3.0"
    assert sent.body["input_type"] == "search_query"
    assert sent.body["embedding_types"] == ["float"]


async def test_more_texts_than_one_request_holds_are_split(fake: FakeCohere) -> None:
    embedder = CohereEmbedder(fake.api_key, base_url=fake.base_url, max_retries=0)
    vectors = await embedder.embed([f"question {i}" for i in range(150)])
    await embedder.aclose()
    assert vectors.shape == (150, 1024)
    assert [len(r.body["texts"]) for r in fake.requests] == [96, 54]


@pytest.mark.parametrize("status", [429, 500])
async def test_provider_errors_become_embedding_errors(fake: FakeCohere, status: int) -> None:
    fake.fail_next(status)
    embedder = CohereEmbedder(fake.api_key, base_url=fake.base_url, max_retries=0)
    with pytest.raises(EmbeddingError):
        await embedder.embed(["hello"])
    await embedder.aclose()


async def test_a_bad_key_is_an_embedding_error(fake: FakeCohere) -> None:
    embedder = CohereEmbedder("wrong", base_url=fake.base_url, max_retries=0)
    with pytest.raises(EmbeddingError):
        await embedder.embed(["hello"])
    await embedder.aclose()


async def test_unreachable_server_is_an_embedding_error() -> None:
    embedder = CohereEmbedder("k", base_url="http://127.0.0.1:9", max_retries=0, timeout=1)
    with pytest.raises(EmbeddingError):
        await embedder.embed(["hello"])
    await embedder.aclose()
