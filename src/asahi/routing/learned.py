"""The learned router: P(the cheap model answers as well as the strong one) from a prompt's embedding.

Two signals over the 384-d embedding the semantic cache already computed, blended on the logit scale:

- a logistic model over the embedding plus a few text counts (`features.py`): smooth, extrapolates;
- kernel-weighted nearest neighbours: the labels of the most similar training prompts, which keeps local
  detail (one MMLU subject, one kind of word problem) that a single linear direction averages away.

Prompts come in two families that the text itself tells apart, multiple-choice questions and open requests,
and each family has its own model: what makes a multiple-choice question hard for the cheap model says little
about a word problem. The blend weight and kernel width of each family were chosen on held-out folds of the
training rows only (`train.py`). The neighbours are stored as int8, a few MB in all, and one decision is a
matrix-vector product over them.

The file also carries the calibration table that turns an org's quality floor ("keep 95% of the strong
model's quality") into a threshold on the probability.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from asahi.routing.features import FEATURE_NAMES, is_multiple_choice, text_features

MODEL_PATH = Path(__file__).with_name("router-model.npz")
FORMAT_VERSION = 2
FAMILIES = ("open", "choice")  # index = is_multiple_choice(text)
NEIGHBOURS = 100
# A neighbour vote is shrunk toward the family's base rate by this much weight, so a few far neighbours
# never give a certain 0 or 1.
PRIOR_WEIGHT = 1.0
LOGIT_LIMIT = 50.0  # a vector far off the training data must not overflow

Array = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float32]


def logit(p: Array) -> Array:
    clipped = np.clip(p, 1e-6, 1 - 1e-6)
    result: Array = np.log(clipped / (1 - clipped))
    return result


@dataclass(frozen=True, slots=True)
class FamilyModel:
    """One family's predictor: logistic weights, the stored neighbours and how the two are blended."""

    weights: Array  # one per embedding dimension, then one per text feature (already de-standardised)
    bias: float
    neighbours: Matrix  # unit embeddings of the training prompts, one row each
    labels: Array  # 1.0 where the cheap answer was good enough for that training prompt
    blend: float  # weight of the logistic logit; the neighbour logit gets 1 - blend
    temperature: float  # kernel width on cosine similarity

    def logistic_logit(self, x: Array) -> Array:
        result: Array = x @ self.weights + self.bias
        return result

    def neighbour_vote(self, similarities: Array) -> Array:
        """Kernel-weighted share of good-enough labels among the nearest neighbours, one per row."""
        k = min(NEIGHBOURS, similarities.shape[1])
        nearest = np.argpartition(-similarities, k - 1, axis=1)[:, :k]
        sims = np.take_along_axis(similarities, nearest, axis=1)
        weights = np.exp((sims - sims.max(axis=1, keepdims=True)) / self.temperature)
        prior = float(self.labels.mean()) if len(self.labels) else 0.5
        votes: Array = ((weights * self.labels[nearest]).sum(axis=1) + PRIOR_WEIGHT * prior) / (
            weights.sum(axis=1) + PRIOR_WEIGHT
        )
        return votes

    def predict(self, x: Array) -> Array:
        """P(cheap is enough) for design-matrix rows (embedding, then text features)."""
        z = self.logistic_logit(x)
        if self.blend < 1.0:
            embeddings = x[:, : self.neighbours.shape[1]].astype(np.float32)
            similarities = (embeddings @ self.neighbours.T).astype(np.float64)
            z = self.blend * z + (1 - self.blend) * logit(self.neighbour_vote(similarities))
        result: Array = 1.0 / (1.0 + np.exp(-np.clip(z, -LOGIT_LIMIT, LOGIT_LIMIT)))
        return result


@dataclass(frozen=True, slots=True)
class LearnedRouter:
    embedder: str  # the embedder the model was trained on; vectors from any other mean nothing to it
    families: tuple[FamilyModel, FamilyModel]  # in the order of FAMILIES
    floors: Array  # quality floors, ascending ...
    thresholds: Array  # ... and the lowest probability that still kept each floor on held-out rows

    @property
    def dimension(self) -> int:
        return len(self.families[0].weights) - len(FEATURE_NAMES)

    def p_cheap_enough(self, embedding: npt.NDArray[np.float32], text: str) -> float:
        model = self.families[int(is_multiple_choice(text))]
        x = np.concatenate([embedding.astype(np.float64), text_features(text).astype(np.float64)])[None, :]
        return float(model.predict(x)[0])

    def threshold(self, floor: float) -> float:
        """The probability a cheaper model needs to keep `floor` of the strong model's quality.

        Floors outside the calibrated range take the nearest end of it.
        """
        return float(np.interp(floor, self.floors, self.thresholds))

    def save(self, path: Path) -> None:
        arrays: dict[str, npt.NDArray[np.generic]] = {
            "version": np.array(FORMAT_VERSION),
            "embedder": np.array(self.embedder),
            "features": np.array(FEATURE_NAMES),
            "floors": self.floors,
            "thresholds": self.thresholds,
        }
        for name, model in zip(FAMILIES, self.families, strict=True):
            # int8 with one scale per row: cosine similarities move by ~1e-3, the file shrinks fourfold.
            scale = np.abs(model.neighbours).max(axis=1, keepdims=True) / 127.0 + 1e-12
            arrays |= {
                f"{name}_weights": model.weights.astype(np.float32),
                f"{name}_bias": np.array(model.bias),
                f"{name}_neighbours": np.round(model.neighbours / scale).astype(np.int8),
                f"{name}_scale": scale.astype(np.float32),
                f"{name}_labels": model.labels.astype(np.uint8),
                f"{name}_blend": np.array(model.blend),
                f"{name}_temperature": np.array(model.temperature),
            }
        with path.open("wb") as f:
            np.savez_compressed(f, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> LearnedRouter:
        with np.load(path, allow_pickle=False) as data:
            if int(data["version"]) != FORMAT_VERSION or tuple(data["features"]) != FEATURE_NAMES:
                raise ValueError(f"{path} was trained for another model format; retrain with `asahi router train`")
            families = tuple(
                FamilyModel(
                    weights=data[f"{name}_weights"].astype(np.float64),
                    bias=float(data[f"{name}_bias"]),
                    neighbours=(data[f"{name}_neighbours"] * data[f"{name}_scale"]).astype(np.float32),
                    labels=data[f"{name}_labels"].astype(np.float64),
                    blend=float(data[f"{name}_blend"]),
                    temperature=float(data[f"{name}_temperature"]),
                )
                for name in FAMILIES
            )
            return cls(
                embedder=str(data["embedder"]),
                families=(families[0], families[1]),
                floors=data["floors"].astype(np.float64),
                thresholds=data["thresholds"].astype(np.float64),
            )
