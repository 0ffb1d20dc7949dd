from __future__ import annotations

import pytest

from asahi.cache.vectors.base import DimensionMismatch, check_dimension
from asahi.embeddings.cohere import CohereEmbedder
from asahi.embeddings.factory import EmbedderConfigError, build_embedding, shared_minilm
from asahi.embeddings.local import LocalEmbedder
from asahi.embeddings.static import StaticEmbedder


async def test_a_cohere_key_picks_cohere_alone() -> None:
    embedding = build_embedding(cohere_api_key="k", cohere_base_url="http://127.0.0.1:9", dimension=1024)
    assert isinstance(embedding.search, CohereEmbedder) and embedding.search.dimension == 1024
    assert embedding.confirm is None and embedding.name == "cohere:embed-english-v3.0"
    await embedding.aclose()


def test_no_key_picks_the_static_table_confirmed_by_the_shared_minilm() -> None:
    embedding = build_embedding(dimension=1024)  # the configured dimension is Cohere's; it does not apply here
    assert isinstance(embedding.search, StaticEmbedder) and embedding.search.dimension == 128
    assert isinstance(embedding.confirm, LocalEmbedder) and embedding.confirm is shared_minilm()
    assert embedding.name == f"{embedding.search.name}+local:all-MiniLM-L6-v2-int8"
    assert build_embedding(provider="local", cohere_api_key="k").confirm is shared_minilm()


def test_bad_configurations_are_named() -> None:
    with pytest.raises(EmbedderConfigError, match="COHERE_API_KEY"):
        build_embedding(provider="cohere")
    with pytest.raises(EmbedderConfigError, match="provider"):
        build_embedding(provider="openai")
    with pytest.raises(EmbedderConfigError, match="768"):
        build_embedding(cohere_api_key="k", dimension=768)


def test_a_dimension_mismatch_names_both_dimensions() -> None:
    with pytest.raises(DimensionMismatch, match=r"384.*1024"):
        check_dimension(384, 1024, "Pinecone index 'asahi-vectors'")
