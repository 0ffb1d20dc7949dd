"""What one request asks of the pipeline and what the pipeline answers, independent of any surface."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

from asahi.domain import ChatRequest, ChatResult, StreamEvent
from asahi.governance.keys import KeyRecord
from asahi.ledger.pricing import UNKNOWN, Cost

RoutingMode = Literal["explicit", "autopilot", "guided"]
AUTO_MODEL = "asahi/auto"


def mode_for(model: str) -> RoutingMode:
    """On the compatible surfaces the model name picks the mode: `asahi/auto` is AUTOPILOT."""
    return "autopilot" if model == AUTO_MODEL else "explicit"


@dataclass(slots=True)
class CacheDirective:
    read: bool = True  # False: `no-cache`, always ask upstream
    write: bool = True  # False: `no-store`, keep nothing
    allow_high_temperature: bool = False  # cache even above the configured temperature cap


@dataclass(slots=True)
class RoutingHints:
    mode: RoutingMode = "explicit"
    quality_preference: str | float | None = None
    latency_preference: Literal["low", "normal"] | None = None
    cost_budget: float | None = None

    def scope(self) -> str:
        """What routed answers are cached under: the mode and every hint, since each can change the answer."""
        return f"mode:{self.mode}:{self.quality_preference}:{self.latency_preference}:{self.cost_budget}"


@dataclass(slots=True)
class Call:
    request_id: str
    surface: Literal["openai", "anthropic", "infer"]
    key: KeyRecord
    request: ChatRequest
    cache: CacheDirective = field(default_factory=CacheDirective)
    routing: RoutingHints = field(default_factory=RoutingHints)
    started: float = field(default_factory=time.perf_counter)

    @property
    def org_id(self) -> str:
        return self.key.org_id


CacheStatus = Literal["miss", "t1", "t2", "bypass"]


@dataclass(slots=True)
class Outcome:
    request_id: str
    model: str
    provider: str
    cache: CacheStatus
    routing_reason: str
    result: ChatResult | None = None  # set for non-streaming requests
    events: AsyncIterator[StreamEvent] | None = None  # set for streaming requests
    cost: Cost = UNKNOWN
    baseline: Cost = UNKNOWN
    saved: Cost = UNKNOWN
    saving_cause: str | None = None
    similarity: float | None = None
    overhead_ms: float = 0.0
    latency_ms: float = 0.0
    estimated: bool = False  # usage estimated by Asahi (a stream cut off before the provider reported it)

    @property
    def cache_tier(self) -> int:
        return {"t1": 1, "t2": 2}.get(self.cache, 0)

    def headers(self) -> dict[str, str]:
        headers = {
            "x-asahi-cache": self.cache,
            "x-asahi-model": self.model,
            "x-asahi-overhead-ms": f"{self.overhead_ms:.3f}",
        }
        if self.similarity is not None:
            headers["x-asahi-cache"] = f"{self.cache}; similarity={self.similarity:.4f}"
        # A streamed miss is priced only when the stream ends; its figures are in the ledger, not the headers.
        if self.events is None or self.cache != "miss":
            headers["x-asahi-cost-usd"] = _usd(self.cost)
            headers["x-asahi-saved-usd"] = _usd(self.saved)
        else:
            headers["x-asahi-cost-usd"] = headers["x-asahi-saved-usd"] = "deferred"
        return headers


def _usd(cost: Cost) -> str:
    return "unknown" if cost.usd is None else f"{cost.usd:.8f}"
