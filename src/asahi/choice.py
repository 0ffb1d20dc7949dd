"""Which model answers a call: the caller's explicit choice, validated, or the org's default.

Explicit model names are honoured exactly or refused with what is allowed; nothing ever falls back to a model
the org does not allow. AUTOPILOT and GUIDED are decided by the router when one is configured.
"""

from __future__ import annotations

from dataclasses import dataclass

from asahi.call import Call
from asahi.errors import AsahiError
from asahi.governance.policy import OrgPolicy
from asahi.routing.catalog import Catalog, ModelInfo

# Picked when neither the org nor the config names a default: the first whose provider is configured.
DEFAULT_PREFERENCE = ("gpt-4o-mini", "claude-haiku-4-5", "asahi-sim-gpt-4o-mini")
BASELINE_PREFERENCE = ("gpt-4o", "claude-sonnet-4-5", "asahi-sim-gpt-4o")


@dataclass(frozen=True, slots=True)
class Choice:
    model: ModelInfo
    baseline: ModelInfo | None
    reason: str
    cache_scope: str  # what tier 1 keys on besides the request: the model, or the routing mode


class ModelChooser:
    def __init__(self, catalog: Catalog, providers: set[str], default: str | None, baseline: str | None) -> None:
        self.catalog = catalog
        self._providers = providers
        self._default = default
        self._baseline = baseline

    def available(self, policy: OrgPolicy) -> list[ModelInfo]:
        return [m for m in self.catalog.served_by(self._providers) if policy.allows(m.name)]

    def _first(self, policy: OrgPolicy, *names: str | None) -> ModelInfo | None:
        for name in names:
            if name is None:
                continue
            model = self.catalog.get(name)
            if model is not None and model.provider in self._providers and policy.allows(name):
                return model
        return None

    def default_model(self, policy: OrgPolicy) -> ModelInfo:
        model = self._first(policy, policy.default_model, self._default, *DEFAULT_PREFERENCE)
        if model is None:
            allowed = self.available(policy)
            if not allowed:
                raise AsahiError(403, "no_model_allowed", "This org's policy allows no configured model.")
            model = min(allowed, key=lambda m: (m.input_price or 0) + (m.output_price or 0))
        return model

    def baseline_model(self, policy: OrgPolicy) -> ModelInfo | None:
        return self._first(policy, policy.baseline_model, self._baseline, *BASELINE_PREFERENCE)

    def explicit(self, name: str, policy: OrgPolicy) -> ModelInfo:
        model = self.catalog.get(name)
        allowed = sorted(m.name for m in self.available(policy))
        if model is None:
            raise AsahiError(404, "model_not_found", f"The model '{name}' does not exist. Available: {allowed}",
                             details={"param": "model", "allowed": allowed})
        if not policy.allows(name):
            raise AsahiError(403, "model_not_allowed", f"This org may not use '{name}'. Allowed: {allowed}",
                             details={"param": "model", "allowed": allowed})
        if model.provider not in self._providers:
            raise AsahiError(400, "model_unavailable",
                             f"The model '{name}' needs the '{model.provider}' provider, which is not configured. "
                             f"Available: {allowed}", details={"param": "model", "allowed": allowed})
        return model

    def choose(self, call: Call, policy: OrgPolicy) -> Choice:
        if call.routing.mode == "explicit":
            model = self.explicit(call.request.model, policy)
            return Choice(model, model, f"explicit: {model.name} as requested", model.name)
        model = self.default_model(policy)
        return Choice(model, self.baseline_model(policy) or model,
                      f"{call.routing.mode}: org default {model.name}", f"mode:{call.routing.mode}")
