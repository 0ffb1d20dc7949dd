"""The models of the endpoints beside chat: embeddings and the legacy completions.

They are kept apart from the chat catalog so that routing never offers an embedding or an instruct model for a
chat request. Each is a `ModelInfo` all the same, so policies, prices and bills treat them like any model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from asahi.config import Config, SettingsError
from asahi.routing.catalog import ModelInfo, model_info

LOCAL_PROVIDER = "local"  # the embedded embedding model: served in process, whatever is configured


@dataclass(frozen=True, slots=True)
class EmbeddingModel:
    info: ModelInfo
    dimension: int
    shortenable: bool  # takes `dimensions` (OpenAI's text-embedding-3 models)

    @property
    def name(self) -> str:
        return self.info.name


def _embedding(name: str, entry: dict[str, Any], provider: str | None = None) -> EmbeddingModel:
    merged = {**entry, **({"provider": provider} if provider else {})}
    dimension = merged.get("dimension")
    if not isinstance(dimension, int) or dimension <= 0:
        raise SettingsError(f"config embedding_models.{name}.dimension must be a positive integer")
    priced = {k: v for k, v in merged.items() if k not in ("dimension", "dimensions")}
    info = model_info(name, {**priced, "output": 0.0}, "openai")
    return EmbeddingModel(info, dimension, bool(merged.get("dimensions")))


def embedding_models(config: Config, providers: set[str]) -> dict[str, EmbeddingModel]:
    """The embedding models whose provider is configured (the local one always is)."""
    models = {name: _embedding(name, entry) for name, entry in config.embedding_models.items()}
    for server in config.compatible_providers:
        models.update((n, _embedding(n, e, server.name)) for n, e in server.embedding_models.items())
    served = providers | {LOCAL_PROVIDER}
    return {name: m for name, m in models.items() if m.info.provider in served}


def completion_models(config: Config, chat: list[ModelInfo], providers: set[str]) -> dict[str, ModelInfo]:
    """Legacy completion models: the configured instruct models, and every model of a compatible server."""
    compatible = {server.name for server in config.compatible_providers}
    models = {name: model_info(name, entry, "openai") for name, entry in config.completion_models.items()}
    models.update((m.name, m) for m in chat if m.provider in compatible)
    return {name: m for name, m in models.items() if m.provider in providers}
