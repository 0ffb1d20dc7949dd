"""What one request asks of the pipeline and what the pipeline answers, independent of any surface."""

from __future__ import annotations

import os
import random
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Literal

from asahi.domain import ChatRequest, ChatResult, StreamEvent
from asahi.governance.keys import KeyRecord
from asahi.ledger.bill import UNBILLED, Bill
from asahi.routing.hints import RoutingHints
from asahi.routing.router import Alternative

# A generator of Asahi's own, seeded from the OS and again in every forked child: whoever seeds the global `random`
# (a test framework, a library in the same process) must not make two requests share an id, since the ledger is
# idempotent by request id and would keep one row for both.
_ids = random.Random()
os.register_at_fork(after_in_child=_ids.seed)


def new_request_id() -> str:
    # 128 random bits, as uuid4 has, without its os.urandom call: a system call that releases the interpreter
    # lock, so under load every request waited there for the ledger's and the embedder's threads. An id is only
    # ever looked up within its own org, so it needs to be unique, not unpredictable.
    return f"req_{_ids.getrandbits(128):032x}"


Surface = Literal["openai", "anthropic", "infer"]
# t3: a miss the provider's own prompt cache served in part; bypass: not cacheable (e.g. above the temperature cap).
CacheStatus = Literal["miss", "t1", "t2", "t3", "bypass"]


@dataclass(slots=True)
class CacheDirective:
    read: bool = True  # False: `no-cache`, always ask upstream
    write: bool = True  # False: `no-store`, keep nothing
    allow_high_temperature: bool = False  # cache even above the configured temperature cap


@dataclass(slots=True)
class Call:
    request_id: str
    surface: Surface
    key: KeyRecord
    request: ChatRequest
    cache: CacheDirective = field(default_factory=CacheDirective)
    routing: RoutingHints = field(default_factory=RoutingHints)
    large: bool = False  # a body large enough that hashing it runs in a worker thread, off the event loop
    client: str | None = None  # the caller's address, for the audit log
    started: float = field(default_factory=time.perf_counter)

    @property
    def org_id(self) -> str:
        return self.key.org_id

    def scope(self) -> str:
        """What the caches key a routed request under (its mode and hints); explicit ones use the model."""
        return self.routing.scope(self.request.model)


@dataclass(slots=True)
class Outcome:
    request_id: str
    model: str
    provider: str
    cache: CacheStatus
    routing_reason: str
    result: ChatResult | None = None  # set for non-streaming requests
    events: AsyncIterator[StreamEvent] | None = None  # set for streaming requests
    bill: Bill = UNBILLED
    alternatives: list[Alternative] = field(default_factory=list)
    similarity: float | None = None
    overhead_ms: float = 0.0
    latency_ms: float = 0.0
    estimated: bool = False  # usage estimated by Asahi (a stream cut off before the provider reported it)

    @property
    def cache_tier(self) -> int:
        return {"t1": 1, "t2": 2}.get(self.cache, 0)

    @property
    def deferred(self) -> bool:
        """A streamed answer from upstream is priced only when the stream ends, after the headers went out."""
        return self.events is not None and self.cache in ("miss", "bypass")

    def headers(self) -> dict[str, str]:
        headers = {
            "x-asahi-cache": self.cache,
            "x-asahi-model": self.model,
            "x-asahi-overhead-ms": f"{self.overhead_ms:.3f}",
        }
        if self.similarity is not None:
            headers["x-asahi-cache"] = f"{self.cache}; similarity={self.similarity:.4f}"
        # A deferred answer's figures are in the ledger, not the headers.
        if self.deferred:
            headers["x-asahi-cost-usd"] = headers["x-asahi-saved-usd"] = "deferred"
        else:
            headers["x-asahi-cost-usd"] = _usd(self.bill.cost.usd)
            headers["x-asahi-saved-usd"] = _usd(self.bill.saved.usd)
        return headers


def _usd(usd: float | None) -> str:
    return "unknown" if usd is None else f"{usd:.8f}"
