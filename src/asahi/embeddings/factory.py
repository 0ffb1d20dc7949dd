"""Pick how tier 2 embeds: Cohere alone when a key is given (or asked for), else the local pair: the static table
to search and the local MiniLM to confirm close candidates. The MiniLM is one instance per process, loaded on
first use and shared with whatever else needs its vectors (the router's learned model was trained on them)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from asahi.embeddings.base import Embedder
from asahi.embeddings.local import LocalEmbedder


class EmbedderConfigError(ValueError):
    """The embeddings configuration cannot be honoured; raised at start-up."""


@dataclass(frozen=True, slots=True)
class Tier2Embedding:
    """`search` embeds every prompt and fills the vector index. `confirm`, when set, re-embeds a prompt only when
    the search found a candidate close enough that a hit is possible, and decisions use its similarities."""

    search: Embedder
    confirm: Embedder | None = None

    @property
    def name(self) -> str:
        """What persisted entries are tagged with: entries of another pair are never loaded, so vectors of two
        embedders are never compared."""
        return self.search.name if self.confirm is None else f"{self.search.name}+{self.confirm.name}"

    async def aclose(self) -> None:
        await self.search.aclose()
        if self.confirm is not None:
            await self.confirm.aclose()


def build_embedding(
    *,
    provider: str = "auto",
    cohere_api_key: str | None = None,
    cohere_base_url: str | None = None,
    model: str = "embed-english-v3.0",
    dimension: int | None = None,
) -> Tier2Embedding:
    """`provider`: auto (Cohere with a key, else local), cohere, or local. `dimension` is the configured
    dimension; it must match Cohere's model, and is ignored for the local pair, whose vectors the vector index
    then takes its dimension from."""
    if provider not in ("auto", "cohere", "local"):
        raise EmbedderConfigError(f"embeddings.provider must be auto, cohere or local, not '{provider}'")
    if provider == "cohere" and not cohere_api_key:
        raise EmbedderConfigError("embeddings.provider is cohere but COHERE_API_KEY is not set")
    if provider != "local" and cohere_api_key:
        from asahi.embeddings.cohere import CohereEmbedder  # the SDK loads only when it is the one used

        embedder = CohereEmbedder(cohere_api_key, model=model, base_url=cohere_base_url)
        if dimension is not None and dimension != embedder.dimension:
            raise EmbedderConfigError(f"embeddings.dimension is {dimension} but Cohere model {model} returns "
                                      f"{embedder.dimension}-d vectors")
        return Tier2Embedding(embedder)
    return Tier2Embedding(shared_static(), shared_minilm())


@functools.cache
def shared_minilm() -> LocalEmbedder:
    """The process's MiniLM: its session is immutable and thread-safe, and it loads (~0.5 s, ~190 MB) on the
    first text it embeds, not here."""
    return LocalEmbedder()


@functools.cache
def shared_static() -> Embedder:
    from asahi.embeddings.static import StaticEmbedder

    return StaticEmbedder()
