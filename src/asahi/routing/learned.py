"""The learned router: how much quality a request loses on the cheap model, and how long its answer will be.

For each prompt it predicts two things from the 384-d embedding the semantic cache already computed:

- the expected quality loss of answering with the cheap model instead of the strong one, as a share of the
  strong model's mean quality: E[strong − cheap] / mean(strong). It counts both ways a switch can go, so it is
  P(only the strong model is right) − P(only the cheap one is right) on right/wrong sets, and the expected
  grade difference on graded ones;
- the length of the answer in tokens, which the saving depends on as much as the prompt does.

Both come from kernel-weighted nearest neighbours (the stored training prompts most similar to this one);
the loss may be blended with a ridge-regression estimate over the embedding plus a few text counts
(`features.py`). Prompts come in three families that the text itself tells apart, multiple-choice questions,
arithmetic word problems and other open requests, and each family has its own model. The blend weight and
kernel width of each family were chosen on held-out folds of the training rows only (`train.py`).

The decision is cost-aware: under a limit on the total quality given up, the cheapest way to spend it is to
switch the requests that lose least per dollar saved first. So a request goes to the cheaper model when
expected loss ≤ λ × saving, the saving measured in output tokens of the strong model (so λ does not depend on
how expensive the catalog is), and λ is the calibrated threshold for the org's quality floor that the file
carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from asahi.routing.features import FEATURE_NAMES, prompt_family, text_features

MODEL_PATH = Path(__file__).with_name("router-model.npz")
FORMAT_VERSION = 4
FAMILIES = ("open", "choice", "word_problem")  # index = features.prompt_family(text)
NEIGHBOURS = 100
# A neighbour average is shrunk toward the family's mean by this much weight, so a few far neighbours never
# decide alone.
PRIOR_WEIGHT = 1.0
# The answer length is predicted with this kernel width whatever the loss uses.
LENGTH_TEMPERATURE = 0.1
MIN_SAVING = 1e-9  # in strong output tokens; anything smaller is no saving at all

Array = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float32]


class Assessment(NamedTuple):
    loss: float  # expected share of the strong model's quality lost on the cheap tier (negative: a gain)
    answer_tokens: float  # expected length of the answer
    family: int  # index into FAMILIES; each family has its own threshold table
    # Cosine similarity to the most similar training prompt of the family: how well the model knows this region
    # (`online/coverage.py` decides whether it is close enough for the estimate to count).
    nearest: float = 1.0


def saving_tokens(strong_cost: float, cost: float, strong_output_price: float) -> float:
    """A saving in USD, expressed in output tokens of the strong model (its price per 1M tokens)."""
    return (strong_cost - cost) / (strong_output_price / 1e6)


def loss_per_saving(loss: Array, saving: Array) -> Array:
    """The cost-aware score: expected quality loss per strong output token saved. Lower goes cheap first.

    A row that saves nothing never goes cheap on cost grounds (+inf).
    """
    result: Array = np.where(saving > MIN_SAVING, loss / np.maximum(saving, MIN_SAVING), np.inf)
    return result


def goes_cheap(loss: float, saving: float, threshold: float) -> bool:
    """The routing rule: the cheaper model when its expected loss is at most `threshold` per token saved."""
    return saving > MIN_SAVING and loss <= threshold * saving


@dataclass(frozen=True, slots=True)
class FamilyModel:
    """One family's predictor: ridge weights for the loss, the stored neighbours and how the two are blended."""

    weights: Array  # one per embedding dimension, then one per text feature (already de-standardised)
    bias: float
    neighbours: Matrix  # unit embeddings of the training prompts, one row each
    losses: Array  # per neighbour: (strong − cheap quality) / its set's mean strong quality
    log_answer_tokens: Array  # per neighbour: log1p(tokens of the strong model's answer)
    blend: float  # weight of the ridge estimate; the neighbour estimate gets 1 - blend
    temperature: float  # kernel width on cosine similarity

    def linear_loss(self, x: Array) -> Array:
        result: Array = x @ self.weights + self.bias
        return result

    def neighbour_means(self, similarities: Array, temperature: float) -> tuple[Array, Array]:
        """Kernel-weighted mean loss (at `temperature`) and log answer length (at `LENGTH_TEMPERATURE`) of the
        nearest neighbours, one of each per row, both shrunk toward the family's mean."""
        rows = similarities.shape[0]
        if similarities.shape[1] == 0:
            return np.zeros(rows), np.zeros(rows)
        k = min(NEIGHBOURS, similarities.shape[1])
        nearest = np.argpartition(-similarities, k - 1, axis=1)[:, :k]
        sims = np.take_along_axis(similarities, nearest, axis=1)
        sims -= sims.max(axis=1, keepdims=True)
        means = []
        for values, width in ((self.losses, temperature), (self.log_answer_tokens, LENGTH_TEMPERATURE)):
            weights = np.exp(sims / width)
            means.append(
                ((weights * values[nearest]).sum(axis=1) + PRIOR_WEIGHT * values.mean())
                / (weights.sum(axis=1) + PRIOR_WEIGHT)
            )
        return means[0], means[1]

    def predict(self, x: Array) -> tuple[Array, Array]:
        """Expected loss and expected answer tokens for design-matrix rows (embedding, then text features)."""
        loss, answer, _ = self.predict_with_nearest(x)
        return loss, answer

    def predict_with_nearest(self, x: Array) -> tuple[Array, Array, Array]:
        """`predict`, plus each row's similarity to its most similar training prompt."""
        dim = self.neighbours.shape[1]
        similarities = (x[:, :dim].astype(np.float32) @ self.neighbours.T).astype(np.float64)
        nearest = similarities.max(axis=1) if similarities.shape[1] else np.full(len(x), -1.0)
        loss, log_tokens = self.neighbour_means(similarities, self.temperature)
        if self.blend > 0.0:
            loss = self.blend * self.linear_loss(x) + (1 - self.blend) * loss
        answer: Array = np.expm1(np.maximum(log_tokens, 0.0))
        return loss, answer, nearest


@dataclass(frozen=True, slots=True)
class LearnedRouter:
    embedder: str  # the embedder the model was trained on; vectors from any other mean nothing to it
    families: tuple[FamilyModel, ...]  # one per family, in the order of FAMILIES
    floors: Array  # quality floors, ascending ...
    # ... and, one row per family, the λ (expected loss per strong output token saved) that kept each floor on
    # held-out rows. Per family because a multiple-choice answer is a letter, a word problem's a short worked
    # solution and a chat answer a page: one λ across them would spend the whole quality budget on the longest
    # answers and route almost no multiple-choice question or word problem.
    thresholds: Array

    def __post_init__(self) -> None:
        if len(self.families) != len(FAMILIES) or self.thresholds.shape != (len(FAMILIES), len(self.floors)):
            raise ValueError(f"a learned router needs one model and one threshold row per family {FAMILIES}")

    @property
    def dimension(self) -> int:
        return len(self.families[0].weights) - len(FEATURE_NAMES)

    def assess(self, embedding: npt.NDArray[np.float32], text: str) -> Assessment:
        family = prompt_family(text)
        x = np.concatenate([embedding.astype(np.float64), text_features(text).astype(np.float64)])[None, :]
        loss, tokens, nearest = self.families[family].predict_with_nearest(x)
        return Assessment(float(loss[0]), float(tokens[0]), family, float(nearest[0]))

    def threshold(self, floor: float, family: int) -> float:
        """λ for `floor` in `family`: the calibrated value of the nearest floor at or above it (the stricter side).

        Floors above the calibrated range take the strictest value, floors below it the loosest.
        """
        index = int(np.searchsorted(self.floors, floor - 1e-9))
        return float(self.thresholds[family, min(index, len(self.floors) - 1)])

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
                f"{name}_losses": model.losses.astype(np.float16),
                f"{name}_log_answer_tokens": model.log_answer_tokens.astype(np.float16),
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
                    losses=data[f"{name}_losses"].astype(np.float64),
                    log_answer_tokens=data[f"{name}_log_answer_tokens"].astype(np.float64),
                    blend=float(data[f"{name}_blend"]),
                    temperature=float(data[f"{name}_temperature"]),
                )
                for name in FAMILIES
            )
            return cls(
                embedder=str(data["embedder"]),
                families=families,
                floors=data["floors"].astype(np.float64),
                thresholds=data["thresholds"].astype(np.float64),
            )
