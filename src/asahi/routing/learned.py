"""The learned router: P(the cheap model answers as well as the strong one) from a prompt's embedding.

A logistic model over the 384-d embedding the semantic cache already computed plus a few text counts
(`features.py`). It is a few kilobytes and scores a request in microseconds; held-out tests of a one-hidden-layer
network did no better on the routing sets (see docs/routing.md). The file also carries the calibration table
that turns an org's quality floor ("keep 95% of the strong model's quality") into a threshold on that probability.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from asahi.routing.features import FEATURE_NAMES, text_features

MODEL_PATH = Path(__file__).with_name("router-model.npz")
FORMAT_VERSION = 1

Array = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class LearnedRouter:
    embedder: str  # the embedder the model was trained on; vectors from any other mean nothing to it
    weights: Array  # one per embedding dimension, then one per text feature (already de-standardised)
    bias: float
    floors: Array  # quality floors, ascending ...
    thresholds: Array  # ... and the lowest probability that still kept each floor on held-out rows

    @property
    def dimension(self) -> int:
        return len(self.weights) - len(FEATURE_NAMES)

    def p_cheap_enough(self, embedding: npt.NDArray[np.float32], text: str) -> float:
        z = self.weights[: self.dimension] @ embedding + self.weights[self.dimension :] @ text_features(text)
        logit = min(max(float(z) + self.bias, -50.0), 50.0)  # a vector far off the training data must not overflow
        return 1.0 / (1.0 + math.exp(-logit))

    def threshold(self, floor: float) -> float:
        """The probability a cheaper model needs to keep `floor` of the strong model's quality.

        Floors outside the calibrated range take the nearest end of it.
        """
        return float(np.interp(floor, self.floors, self.thresholds))

    def save(self, path: Path) -> None:
        with path.open("wb") as f:
            np.savez_compressed(
                f,
                version=np.array(FORMAT_VERSION),
                embedder=np.array(self.embedder),
                features=np.array(FEATURE_NAMES),
                weights=self.weights.astype(np.float32),
                bias=np.array(self.bias),
                floors=self.floors,
                thresholds=self.thresholds,
            )

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> LearnedRouter:
        with np.load(path, allow_pickle=False) as data:
            if int(data["version"]) != FORMAT_VERSION or tuple(data["features"]) != FEATURE_NAMES:
                raise ValueError(f"{path} was trained for another feature set; retrain with `asahi router train`")
            return cls(
                embedder=str(data["embedder"]),
                weights=data["weights"].astype(np.float64),
                bias=float(data["bias"]),
                floors=data["floors"].astype(np.float64),
                thresholds=data["thresholds"].astype(np.float64),
            )
