from __future__ import annotations

import numpy as np

from asahi.cache.vectors.base import Vector


def unit(seed: int, dimension: int = 16) -> Vector:
    v = np.random.default_rng(seed).standard_normal(dimension).astype(np.float32)
    return (v / np.linalg.norm(v)).astype(np.float32)
