"""Prometheus metrics, exposed at GET /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        # A registry per app, so tests that build several apps don't collide on global names.
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "asahi_requests_total", "Inference requests", ["surface", "status", "cache"], registry=self.registry
        )
        self.cache_errors = Counter(
            "asahi_cache_errors_total", "Cache backend failures skipped", ["tier"], registry=self.registry
        )
        self.provider_errors = Counter(
            "asahi_provider_errors_total", "Upstream failures", ["provider", "status"], registry=self.registry
        )
        self.saved_usd = Counter("asahi_saved_usd_total", "USD saved", ["cause"], registry=self.registry)
        self.cost_usd = Counter("asahi_cost_usd_total", "USD spent upstream", registry=self.registry)
        self.overhead = Histogram(
            "asahi_overhead_seconds", "Time Asahi adds to a request",
            buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
            registry=self.registry,
        )
        self.ledger_dropped = Counter(
            "asahi_ledger_dropped_total", "Usage rows dropped because the writer queue was full",
            registry=self.registry,
        )

    def observe(
        self, surface: str, status: int, cache: str, overhead_ms: float, cost_usd: float | None,
        saved_usd: float | None, cause: str | None,
    ) -> None:
        """One finished request. Counters only grow: a negative saving (cache writes not yet read) is in the
        ledger, not here."""
        self.overhead.observe(overhead_ms / 1000)
        self.requests.labels(surface, str(status), cache).inc()
        if cost_usd:
            self.cost_usd.inc(cost_usd)
        if saved_usd and saved_usd > 0 and cause:
            self.saved_usd.labels(cause).inc(saved_usd)
