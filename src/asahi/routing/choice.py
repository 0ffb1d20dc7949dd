"""Which model answers a call, and what it is measured against: the bridge from an org's policy and the
caller's hints to the router.

Explicit model names are honoured exactly or refused with what is allowed; AUTOPILOT and GUIDED go to the router
(learned, over the embedding tier 2 already computed). Nothing ever lands on, or falls back to, a model the org
does not allow.
"""

from __future__ import annotations

from dataclasses import dataclass

from asahi.cache.vectors.base import Vector
from asahi.call import Call
from asahi.errors import AsahiError
from asahi.governance.policy import OrgPolicy
from asahi.routing.catalog import Catalog, ModelInfo
from asahi.routing.router import OrgRoutingPolicy, RouteDecision, Router, RoutingMode, RoutingPreferences

# Used when neither the org nor the config names one: the first whose provider is configured.
DEFAULT_PREFERENCE = ("gpt-4o-mini", "claude-haiku-4-5", "asahi-sim-gpt-4o-mini")
BASELINE_PREFERENCE = ("gpt-4o", "claude-sonnet-4-5", "asahi-sim-gpt-4o")


@dataclass(frozen=True, slots=True)
class Choice:
    model: ModelInfo
    reason: str
    fallbacks: tuple[ModelInfo, ...] = ()  # tried in order when the model's provider fails


class ModelChooser:
    def __init__(
        self,
        catalog: Catalog,
        router: Router,
        *,
        quality_floor: float,
        fallbacks: dict[str, list[str]] | None = None,
    ) -> None:
        self.catalog = catalog
        self.router = router
        self._floor = quality_floor
        self._fallbacks = fallbacks or {}

    @staticmethod
    def first_served(catalog: Catalog, providers: set[str], names: tuple[str, ...]) -> str | None:
        return next((n for n in names if (m := catalog.get(n)) is not None and m.provider in providers), None)

    def available(self, policy: OrgPolicy) -> list[ModelInfo]:
        return self.router.allowed(self._routing_policy(policy))

    def _routing_policy(self, policy: OrgPolicy) -> OrgRoutingPolicy:
        return OrgRoutingPolicy(
            allowed_models=frozenset(policy.allowed_models) if policy.allowed_models is not None else None,
            default_model=policy.default_model,
            baseline_model=policy.baseline_model,
            quality_floor=policy.quality_floor if policy.quality_floor is not None else self._floor,
        )

    def _decide(self, call: Call, policy: OrgPolicy, embedding: Vector | None) -> RouteDecision:
        hints = call.routing
        preferences = RoutingPreferences(
            mode=RoutingMode(hints.mode),
            quality=hints.quality_preference,
            latency=hints.latency_preference,
            cost_budget=hints.cost_budget,
        )
        return self.router.route(call.request, self._routing_policy(policy), preferences, embedding)

    def baseline_for(self, call: Call, policy: OrgPolicy) -> ModelInfo | None:
        """What the call would have cost without Asahi: the model asked for, or the org's baseline model."""
        if call.routing.mode == "explicit":
            return self.catalog.get(call.request.model)
        allowed = {m.name for m in self.available(policy)}
        name = policy.baseline_model or self.router.baseline_model
        if name is None or name not in allowed:
            return None
        return self.catalog.get(name)

    def choose(self, call: Call, policy: OrgPolicy, embedding: Vector | None) -> Choice:
        decision = self._decide(call, policy, embedding)
        model = self.catalog.get(decision.model)
        if model is None:
            raise AsahiError(500, "catalog_mismatch", f"The router chose unknown model {decision.model}.")
        names = self._fallbacks.get(model.name)
        if not names:
            return Choice(model, decision.reason)
        allowed = {m.name for m in self.available(policy)}
        fallbacks = tuple(m for name in names if name in allowed and (m := self.catalog.get(name)) is not None)
        return Choice(model, decision.reason, fallbacks)
