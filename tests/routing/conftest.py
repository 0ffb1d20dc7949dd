"""A small catalog across three tiers and two providers, and a learned router whose answer the test sets."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from asahi.routing.catalog import Catalog
from asahi.routing.features import FEATURE_NAMES
from asahi.routing.learned import FAMILIES, FamilyModel, LearnedRouter

MODELS = {
    "big": {
        "provider": "openai",
        "input": 10.0,
        "output": 30.0,
        "context_window": 100_000,
        "capabilities": ["tools", "vision", "json"],
        "quality": 5,
    },
    "mid": {
        "provider": "openai",
        "input": 1.0,
        "output": 4.0,
        "context_window": 100_000,
        "capabilities": ["tools", "json"],
        "quality": 4,
    },
    "small": {
        "provider": "openai",
        "input": 0.1,
        "output": 0.4,
        "context_window": 8_000,
        "capabilities": ["json"],
        "quality": 3,
    },
    "claude": {
        "provider": "anthropic",
        "input": 3.0,
        "output": 15.0,
        "context_window": 200_000,
        "capabilities": ["tools", "vision"],
        "quality": 5,
    },
    "free": {"provider": "ollama", "context_window": 8_000, "quality": 2},
}


@pytest.fixture
def catalog() -> Catalog:
    return Catalog.from_entries(MODELS)


def constant_family(loss: float, answer_tokens: float = 100.0) -> FamilyModel:
    """A family model that predicts `loss` and `answer_tokens` for every prompt: the ridge part alone (all weights
    zero) for the loss, one neighbour at similarity 0 that carries the answer length."""
    return FamilyModel(
        weights=np.zeros(384 + len(FEATURE_NAMES)),
        bias=loss,
        neighbours=np.zeros((1, 384), np.float32),
        losses=np.array([loss]),
        log_answer_tokens=np.array([math.log1p(answer_tokens)]),
        blend=1.0,
        temperature=0.1,
    )


def fixed_router(loss: float, threshold: float = 0.001, answer_tokens: float = 100.0) -> LearnedRouter:
    """Predicts `loss` and `answer_tokens` for every prompt, of any family; λ = `threshold` for every floor."""
    family = constant_family(loss, answer_tokens)
    return LearnedRouter(
        embedder="test",
        families=(family,) * len(FAMILIES),
        floors=np.array([0.8, 1.0]),
        thresholds=np.full((len(FAMILIES), 2), threshold),
    )


@pytest.fixture
def learned() -> Callable[..., LearnedRouter]:
    return fixed_router
