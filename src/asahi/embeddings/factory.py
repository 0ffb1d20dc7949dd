"""Pick the active embedder: Cohere when a key is given (or asked for), else the embedded local model."""

from __future__ import annotations

import functools

from asahi.embeddings.base import Embedder


class EmbedderConfigError(ValueError):
    """The embeddings configuration cannot be honoured; raised at start-up."""


def build_embedder(
    *,
    provider: str = "auto",
    cohere_api_key: str | None = None,
    cohere_base_url: str | None = None,
    model: str = "embed-english-v3.0",
    dimension: int | None = None,
) -> Embedder:
    """`provider`: auto (Cohere with a key, else local), cohere, or local. `dimension` is the configured
    dimension; it must match Cohere's model, and is ignored for the local model (always 384), whose vectors
    the vector index then takes its dimension from."""
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
        return embedder
    return _shared_local()


@functools.cache
def _shared_local() -> Embedder:
    """One local model per process: its session is immutable and thread-safe, and loading it costs ~0.5 s."""
    from asahi.embeddings.local import LocalEmbedder  # loads a 23 MB model: only when it is the one used

    return LocalEmbedder()
