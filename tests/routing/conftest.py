"""A small catalog across three tiers and two providers, and a learned router whose answer the test sets."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from asahi.routing.catalog import Catalog
from asahi.routing.features import FEATURE_NAMES
from asahi.routing.learned import FamilyModel, LearnedRouter

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
    return Catalog.from_config({"models": MODELS})


def constant_family(p: float) -> FamilyModel:
    """A family model that predicts `p` for every prompt: the logistic part alone, all weights zero."""
    return FamilyModel(
        weights=np.zeros(384 + len(FEATURE_NAMES)),
        bias=math.log(p / (1 - p)),
        neighbours=np.zeros((0, 384), np.float32),
        labels=np.zeros(0),
        blend=1.0,
        temperature=1.0,
    )


def fixed_router(p: float, threshold: float = 0.8) -> LearnedRouter:
    """Predicts `p` for every prompt, of either family; needs `threshold` for every floor."""
    return LearnedRouter(
        embedder="test",
        families=(constant_family(p), constant_family(p)),
        floors=np.array([0.8, 1.0]),
        thresholds=np.array([threshold, threshold]),
    )


@pytest.fixture
def learned() -> Callable[..., LearnedRouter]:
    return fixed_router
