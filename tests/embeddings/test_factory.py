from __future__ import annotations

import pytest

from asahi.cache.vectors.base import DimensionMismatch, check_dimension
from asahi.embeddings.cohere import CohereEmbedder
from asahi.embeddings.factory import EmbedderConfigError, build_embedder
from asahi.embeddings.local import LocalEmbedder


async def test_a_cohere_key_picks_cohere() -> None:
    embedder = build_embedder(cohere_api_key="k", cohere_base_url="http://127.0.0.1:9", dimension=1024)
    assert isinstance(embedder, CohereEmbedder) and embedder.dimension == 1024
    await embedder.aclose()


def test_no_key_picks_the_local_model() -> None:
    embedder = build_embedder(dimension=1024)  # the configured dimension is Cohere's; local is always 384
    assert isinstance(embedder, LocalEmbedder) and embedder.dimension == 384
    assert isinstance(build_embedder(provider="local", cohere_api_key="k"), LocalEmbedder)


def test_bad_configurations_are_named() -> None:
    with pytest.raises(EmbedderConfigError, match="COHERE_API_KEY"):
        build_embedder(provider="cohere")
    with pytest.raises(EmbedderConfigError, match="provider"):
        build_embedder(provider="openai")
    with pytest.raises(EmbedderConfigError, match="768"):
        build_embedder(cohere_api_key="k", dimension=768)


def test_a_dimension_mismatch_names_both_dimensions() -> None:
    with pytest.raises(DimensionMismatch, match=r"384.*1024"):
        check_dimension(384, 1024, "Pinecone index 'asahi-vectors'")
