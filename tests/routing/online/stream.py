"""A synthetic org: prompts in clusters, some the cheap model handles and some it fails, and a way to run it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from asahi.routing.learned import goes_cheap
from asahi.routing.online.calibration import FamilyCalibration, Saving

DIMENSION = 16
SAVING = Saving(100.0, 0.0)


@dataclass(frozen=True)
class Request:
    embedding: npt.NDArray[np.float32]
    loss: float  # what answering it with the cheap model loses
    offline_loss: float  # what the offline model claims


def clustered_traffic(
    count: int,
    hard_loss_rate: float,
    seed: int,
    offline: Callable[[bool], float],
    clusters: Sequence[int] = range(8),
) -> list[Request]:
    """Traffic spread over `clusters`: 0–3 are "easy" (the cheap answer is wrong 3% of the time), 4–7 "hard"
    (wrong `hard_loss_rate` of the time); `offline(hard)` is what the offline model claims for each."""
    rng = np.random.default_rng(seed)
    centres = np.linalg.qr(np.random.default_rng(99).normal(size=(DIMENSION, DIMENSION)))[0][:8]
    requests = []
    for _ in range(count):
        cluster = int(rng.choice(list(clusters)))
        hard = cluster >= 4
        vector = centres[cluster] + rng.normal(0, 0.15, DIMENSION)
        loss = float(rng.random() < (hard_loss_rate if hard else 0.03))
        requests.append(Request((vector / np.linalg.norm(vector)).astype(np.float32), loss, offline(hard)))
    return requests


@dataclass(frozen=True)
class Outcome:
    quality: float  # share of the strong model's quality kept (strong quality 1 per request)
    cheap_share: float


def run(calibration: FamilyCalibration, requests: list[Request], seed: int, floor: float = 0.95) -> Outcome:
    """Route `requests` online as the gateway would: a labelled request is answered by the strong model."""
    rng = np.random.default_rng(seed)
    lost = 0.0
    cheap_count = 0
    for request in requests:
        estimate = calibration.estimate(request.embedding, request.offline_loss, nearest=1.0)
        cheap = estimate.covered and goes_cheap(estimate.loss, SAVING.at(0), calibration.threshold(floor))
        probability = calibration.shadow_probability(floor, relative_cost=1.0 if cheap else 0.05)
        if rng.random() < probability:
            calibration.record(
                request.embedding,
                request.loss,
                offline_loss=request.offline_loss,
                offline_tokens=0.0,
                nearest=1.0,
                saving=SAVING,
            )
        elif cheap:
            lost += request.loss
            cheap_count += 1
    return Outcome(1 - lost / len(requests), cheap_count / len(requests))
