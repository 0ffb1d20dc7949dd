"""The routing vocabulary every layer shares: the modes, the model name that asks for routing, and the hints a
caller may give.

EXPLICIT honours the model the caller named; AUTOPILOT (model `asahi/auto`) lets Asahi pick; GUIDED is
AUTOPILOT steered by the caller's quality, latency or cost preferences.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

AUTO_MODEL = "asahi/auto"


class RoutingMode(StrEnum):
    EXPLICIT = "explicit"
    AUTOPILOT = "autopilot"
    GUIDED = "guided"


@dataclass(frozen=True, slots=True)
class RoutingHints:
    """What the caller asked of routing. `mode` None derives it from the model name and the preferences."""

    mode: RoutingMode | None = None
    quality: float | str | None = None  # share of the strong model's quality to keep, or low/medium/high
    latency: Literal["low", "normal"] | None = None
    cost_budget: float | None = None  # USD for this request
    cascade: bool | None = None  # cheap model first, strong only when its answer looks wrong; None: the org's

    @property
    def guided(self) -> bool:
        return self.quality is not None or self.latency is not None or self.cost_budget is not None

    def resolve(self, model: str) -> RoutingMode:
        if self.mode is not None:
            return self.mode
        if model != AUTO_MODEL:
            return RoutingMode.EXPLICIT
        return RoutingMode.GUIDED if self.guided else RoutingMode.AUTOPILOT

    def scope(self, model: str) -> str:
        """What routed answers are cached under: the mode and every hint, since each can change the answer."""
        return f"mode:{self.resolve(model)}:{self.quality}:{self.latency}:{self.cost_budget}"
