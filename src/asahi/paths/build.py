"""The paths beside chat, built once from the components the pipeline already has."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.cache.tier1 import Tier1
from asahi.embeddings.factory import shared_minilm
from asahi.embeddings.local import LocalEmbedder
from asahi.paths.completions import CompletionsPath
from asahi.paths.count_tokens import CountTokensPath
from asahi.paths.embeddings import EmbeddingsPath
from asahi.paths.responses import ResponsesPath
from asahi.pipeline import Pipeline
from asahi.providers.base import Provider
from asahi.routing.endpoint_models import EmbeddingModel, completion_models, embedding_models
from asahi.routing.router import Router
from asahi.settings import Settings
from asahi.store.responses import ResponseStore

if TYPE_CHECKING:  # the Cohere SDK is imported only when Cohere is configured
    from asahi.embeddings.cohere import CohereEmbeddings


@dataclass(slots=True)
class Paths:
    embeddings: EmbeddingsPath
    completions: CompletionsPath
    count_tokens: CountTokensPath
    responses: ResponsesPath
    cohere: CohereEmbeddings | None

    def embedding_models(self) -> list[EmbeddingModel]:
        return list(self.embeddings.models.values())

    async def aclose(self) -> None:
        if self.cohere is not None:
            await self.cohere.aclose()


def _local() -> LocalEmbedder:
    """The shared local model, loaded on first use (tier 2 has usually loaded it already)."""
    model = shared_minilm()
    assert isinstance(model, LocalEmbedder)
    return model


def build_paths(settings: Settings, engine: AsyncEngine, pipeline: Pipeline, tier1: Tier1, router: Router,
                providers: dict[str, Provider]) -> Paths:
    served = set(providers) | ({"cohere"} if settings.cohere_api_key else set())
    cohere = None
    if settings.cohere_api_key:
        from asahi.embeddings.cohere import CohereEmbeddings  # the SDK loads only when Cohere is configured

        cohere = CohereEmbeddings(settings.cohere_api_key, base_url=settings.cohere_base_url)
    config = settings.config
    return Paths(
        embeddings=EmbeddingsPath(pipeline, tier1, embedding_models(config, served), providers, cohere,
                                  _local),
        completions=CompletionsPath(pipeline, tier1, completion_models(config, router.served(), set(providers)),
                                    providers, config.cache.tier1.max_cacheable_temperature),
        count_tokens=CountTokensPath(pipeline, router, providers),
        responses=ResponsesPath(pipeline, ResponseStore(engine)),
        cohere=cohere,
    )
