"""Whose prompt cache a model uses, read from its name for simulator models, and each provider's minimums."""

from __future__ import annotations

from asahi.config import load_config
from asahi.providers.prompt_caching import anthropic_min_tokens, model_family


def test_model_family() -> None:
    assert model_family("openai", "anything") == "openai" and model_family("anthropic", "x") == "anthropic"
    assert model_family("ollama", "gpt-oss:20b") is None  # a compatible server has no provider prompt cache
    families = {name: model_family("simulator", name) for name in (
        "asahi-sim-gpt-4o-mini", "asahi-sim-o4-mini", "asahi-sim-gpt-4.1", "asahi-sim-claude-haiku-4-5",
        "asahi-sim-llama-3", "asahi-sim-solo-2")}
    assert families == {"asahi-sim-gpt-4o-mini": "openai", "asahi-sim-o4-mini": "openai",
                        "asahi-sim-gpt-4.1": "openai", "asahi-sim-claude-haiku-4-5": "anthropic",
                        "asahi-sim-llama-3": None, "asahi-sim-solo-2": None}


def test_the_minimum_depends_on_the_model() -> None:
    assert anthropic_min_tokens("claude-haiku-4-5") == 2048 and anthropic_min_tokens("claude-sonnet-4-5") == 1024


def test_configured_simulator_models_cache_like_the_models_they_stand_in_for() -> None:
    models = load_config().models
    stand_ins = {name: entry["stands_in_for"] for name, entry in models.items() if entry.get("provider") == "simulator"}
    assert stand_ins
    for name, real in stand_ins.items():
        assert model_family("simulator", name) == models[real]["provider"]
        assert anthropic_min_tokens(name) == anthropic_min_tokens(real)
