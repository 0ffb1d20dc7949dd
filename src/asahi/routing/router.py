"""Pick the model for a request: EXPLICIT honours the caller, AUTOPILOT and GUIDED pick, cost-aware, a cheaper
model where it is predicted to keep the org's quality floor.

Only the org's allowed models that can serve the request (tools, images, JSON mode, context length) are ever
candidates, so no path can land on a model the org has not allowed. The learned router predicts the expected
quality loss of the cheap tier against the strong model (the org's baseline), as a share of the strong model's
quality, and the answer's length. A model between the two tiers is assumed to close the gap in proportion to its
catalog quality, so its loss is loss·gap with gap = 1 at the cheap tier and 0 at the strong one. Its saving is
the strong model's estimated cost minus its own (prompt tokens and the predicted answer length at catalog
prices), in output tokens of the strong model. A model qualifies when loss ≤ λ·saving, λ being the calibrated
threshold for the floor: across many requests that spends the allowed quality loss where it saves the most
dollars. Among qualifying models the router takes the best trade-off, the largest λ·saving − loss (the strong
model scores 0). Requests the router was not trained to judge (tools, images) and requests without an
embedding go to the org's default model.

GUIDED preferences:
- quality: a number in 0..1 (the share of the strong model's quality to keep) or "low" (0.85), "medium" (the
  org's floor) or "high" (0.99).
- latency: "low" picks, among the models that qualify, the smallest (lowest quality tier), since smaller
  models answer faster; "normal" picks the best trade-off.
- cost_budget: USD for this request. Models estimated above it are dropped, even if that means missing the
  quality floor (the reason says so); when no model fits, a 422 names the cheapest estimate.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from asahi.domain import ChatRequest, ImagePart
from asahi.errors import AsahiError, BadRequest
from asahi.governance.policy import OrgPolicy
from asahi.routing.catalog import Catalog, ModelInfo
from asahi.routing.cost import estimate_cost, estimate_input_tokens, expected_output_tokens
from asahi.routing.hints import AUTO_MODEL, RoutingHints, RoutingMode
from asahi.routing.learned import Assessment, LearnedRouter, goes_cheap, saving_tokens
from asahi.routing.online.calibration import Saving
from asahi.routing.online.service import Advice, OnlineRouting

# The catalog tier of the training data's cheap model (Mixtral-8x7B); the strong model is the org's baseline.
CHEAP_TIER = 3
QUALITY_WORDS = {"low": 0.85, "high": 0.99}  # "medium" means the org's own floor
DEFAULT_QUALITY_FLOOR = 0.95


class Alternative(NamedTuple):
    model: str
    estimated_cost: float | None  # USD; None when the model has no price
    predicted_quality: float | None  # expected share of the baseline's quality kept; None when not predicted


@dataclass(frozen=True, slots=True)
class Judged:
    """What the online calibration needs of a routed request after its answer: the offline assessment it was
    routed on and its prompt embedding."""

    org_id: str
    assessment: Assessment
    embedding: npt.NDArray[np.float32]
    saving: Saving  # of the cheap tier against the strong model, in strong output tokens
    cheap: ModelInfo  # the cheap-tier model a label compares against the strong one
    floor: float  # the share of the strong model's quality this request must keep


@dataclass(frozen=True, slots=True)
class Route:
    """Which model answers a request, why, and what is tried when its provider fails."""

    model: ModelInfo
    mode: RoutingMode
    reason: str
    alternatives: list[Alternative]  # every candidate considered, cheapest first
    estimated_cost: float | None = None
    fallbacks: tuple[ModelInfo, ...] = ()  # tried in order when the model's provider fails; all allowed
    judged: Judged | None = None  # set when the learned router judged it (AUTOPILOT / GUIDED with an embedding)
    label: bool = False  # sampled for a label: the strong model answers, the cheap tier runs off the path


def incompatibility(request: ChatRequest, model: ModelInfo) -> tuple[str, str] | None:
    """(field, why) when `model` cannot take the request as it is: a provider-native field of another wire format
    (translating it would lose it), or reasoning on a model that does not reason. None when it can."""
    for family, names in request.native_fields().items():
        if model.family is not None and family != model.family:
            return names[0], (f"{model.name} speaks another provider's format and cannot take "
                              f"{', '.join(names)}")
    if request.reasoning is not None and "reasoning" not in model.capabilities:
        return "reasoning", f"{model.name} does not reason (reasoning_effort / thinking)"
    return None


def _needs(request: ChatRequest) -> frozenset[str]:
    needs = set()
    if request.tools or any(m.role == "tool" or m.tool_calls for m in request.messages):
        needs.add("tools")
    if any(isinstance(p, ImagePart) for m in request.messages for p in m.content):
        needs.add("vision")
    if request.response_format and request.response_format.get("type") in ("json_object", "json_schema"):
        needs.add("json")
    if request.reasoning is not None:
        needs.add("reasoning")
    return frozenset(needs)


def _expected_loss(loss: float, model: ModelInfo, strong: ModelInfo) -> float:
    """`loss` at the cheap tier, none at the strong model's tier, in proportion between; lower tiers lose more."""
    if model.quality >= strong.quality:
        return 0.0
    return loss * (strong.quality - model.quality) / max(strong.quality - CHEAP_TIER, 1)


def _validate(hints: RoutingHints) -> None:
    if hints.latency not in (None, "low", "normal"):
        raise BadRequest('latency_preference must be "low" or "normal".')
    if hints.cost_budget is not None and not hints.cost_budget > 0:
        raise BadRequest("cost_budget must be a positive number of USD.")


def _by_cost(cost: float | None) -> float:
    return float("inf") if cost is None else cost


def check_limits(request: ChatRequest, model: ModelInfo) -> None:
    """Refuse what the model cannot take, before anything is sent: max_tokens above its output cap (400), a
    prompt longer than its context window (413)."""
    if request.max_tokens is not None and request.max_tokens > model.max_output_tokens:
        raise BadRequest(
            f"max_tokens {request.max_tokens} is above {model.name}'s limit of {model.max_output_tokens}.",
            code="max_tokens_too_large", param="max_tokens",
        )
    estimate = estimate_input_tokens(request)
    if estimate > model.context_window:
        raise AsahiError(
            413, "context_length_exceeded",
            f"The prompt is about {estimate} tokens; {model.name} accepts at most {model.context_window}.",
            details={"param": "messages", "limit": model.context_window},
        )


def _usd(cost: float | None) -> str:
    return "unpriced" if cost is None else f"${cost:.6f}"


class Router:
    """One per process; `route` is pure CPU and takes well under a millisecond (bench/routing_speed.py)."""

    def __init__(
        self,
        catalog: Catalog,
        learned: LearnedRouter | None = None,
        *,
        providers: frozenset[str] | None = None,
        default_model: str | None = None,
        baseline_model: str | None = None,
        quality_floor: float = DEFAULT_QUALITY_FLOOR,
        fallbacks: Mapping[str, Sequence[str]] | None = None,
        online: OnlineRouting | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """`providers`: the configured providers; models of any other are never offered. The two model names
        and the floor are the gateway-wide defaults an org policy overrides; `fallbacks` maps a model to the
        models tried when its provider fails."""
        self.catalog = catalog
        self._learned = learned
        self._default_model = default_model
        self._baseline_model = baseline_model
        self._floor_default = quality_floor
        self._fallbacks = {name: tuple(names) for name, names in (fallbacks or {}).items()}
        # Per-org calibration from sampled labels; without it the offline model's thresholds decide alone.
        self.online = online
        self._rng = rng or random.Random()
        # The catalog is immutable: compute once what every request would otherwise recompute.
        self._served = catalog.models() if providers is None else catalog.served_by(set(providers))

    @property
    def default_model(self) -> str | None:
        """The gateway-wide default, for requests the router cannot judge."""
        return self._default_model

    def served(self) -> list[ModelInfo]:
        return self._served

    def allowed(self, policy: OrgPolicy) -> list[ModelInfo]:
        if policy.allowed_models is None:
            return self._served
        return [m for m in self._served if m.name in policy.allowed_models]

    def baseline(self, request: ChatRequest, hints: RoutingHints, policy: OrgPolicy) -> ModelInfo | None:
        """What the request would have cost without Asahi: the model asked for, or the org's baseline model."""
        if hints.resolve(request.model) is RoutingMode.EXPLICIT:
            return self.catalog.get(request.model)
        name = policy.baseline_model or self._baseline_model
        if name is None or not policy.allows(name):
            return None
        return next((m for m in self._served if m.name == name), None)

    def check_fits(self, request: ChatRequest, policy: OrgPolicy) -> None:
        """413 for a prompt longer than every allowed model's context: cheap, so it runs before any hashing or
        embedding of a routed request (an explicit one is checked against its model in `route`)."""
        allowed = self.allowed(policy)
        if not allowed:
            raise AsahiError(403, "no_models_allowed", "This organisation has no models allowed.")
        estimate = estimate_input_tokens(request)
        limit = max(m.context_window for m in allowed)
        if estimate > limit:
            raise AsahiError(
                413, "context_length_exceeded",
                f"The prompt is about {estimate} tokens; the largest context among allowed models is {limit}.",
                details={"estimated_tokens": estimate, "limit": limit},
            )

    def route(
        self,
        request: ChatRequest,
        policy: OrgPolicy,
        hints: RoutingHints | None = None,
        embedding: npt.NDArray[np.float32] | None = None,
        org_id: str | None = None,
    ) -> Route:
        """Decide the model. `embedding` is the prompt's vector (the router's own embedder), if one was made;
        `org_id` lets the org's own calibration (its verified requests) decide what may go cheap."""
        hints = hints or RoutingHints()
        allowed = self.allowed(policy)
        if not allowed:
            raise AsahiError(403, "no_models_allowed", "This organisation has no models allowed.")
        _validate(hints)
        mode = hints.resolve(request.model)
        if mode is RoutingMode.EXPLICIT:
            route = self._explicit(request, allowed)
        else:
            route = self._choose(request, policy, hints, embedding, allowed, mode, org_id)
        check_limits(request, route.model)
        names = self._fallbacks.get(route.model.name)
        if not names:
            return route
        # A fallback that cannot take the request as it is would answer it with a field silently lost: skipped.
        fallbacks = tuple(m for name in names for m in allowed if m.name == name and not incompatibility(request, m))
        return replace(route, fallbacks=fallbacks)

    def _explicit(self, request: ChatRequest, allowed: list[ModelInfo]) -> Route:
        model = next((m for m in allowed if m.name == request.model), None)
        if model is None:
            names = sorted(m.name for m in allowed)
            known = any(m.name == request.model for m in self._served)
            status, code, verb = (
                (403, "model_not_allowed", "is not allowed") if known else (404, "model_not_found", "is not available")
            )
            raise AsahiError(
                status,
                code,
                f"Model {request.model!r} {verb}. Allowed: {', '.join(names)}, or {AUTO_MODEL}.",
                details={"allowed_models": names},
            )
        refused = incompatibility(request, model)
        if refused is not None:
            raise BadRequest(f"{refused[1]}: name a model that can take it, or leave it out.",
                             code="unsupported_field", param=refused[0])
        cost = estimate_cost(model, estimate_input_tokens(request), expected_output_tokens(request, model))
        return Route(
            model,
            RoutingMode.EXPLICIT,
            f"explicit: the caller named {model.name}",
            [Alternative(model.name, cost, None)],
            cost,
        )

    def _choose(
        self,
        request: ChatRequest,
        policy: OrgPolicy,
        hints: RoutingHints,
        embedding: npt.NDArray[np.float32] | None,
        allowed: list[ModelInfo],
        mode: RoutingMode,
        org_id: str | None,
    ) -> Route:
        needs = _needs(request)
        capable = [m for m in allowed if needs <= m.capabilities and incompatibility(request, m) is None]
        if not capable:
            names = ", ".join(sorted(m.name for m in allowed))
            native = sorted(n for names_ in request.native_fields().values() for n in names_)
            wanted = ", ".join([*sorted(needs), *native])
            raise BadRequest(f"No allowed model supports {wanted}. Allowed: {names}.", code="no_capable_model")
        input_tokens = estimate_input_tokens(request)
        fits = [m for m in capable if input_tokens + (request.max_tokens or 0) <= m.context_window]
        if not fits:
            limit = max(m.context_window for m in capable)
            raise AsahiError(
                413,
                "context_length_exceeded",
                f"The request is about {input_tokens} tokens; the largest context among allowed models is {limit}.",
                details={"estimated_tokens": input_tokens, "limit": limit},
            )
        costs = {m.name: estimate_cost(m, input_tokens, expected_output_tokens(request, m)) for m in fits}
        strong = self._pick_named(fits, policy.baseline_model or self._baseline_model) or max(
            fits, key=lambda m: (m.quality, -_by_cost(costs[m.name]))
        )
        floor = self._floor(hints, policy)
        label = mode.value

        assessment = self._predict(request, embedding, needs)
        judged: Judged | None = None
        sampled = False
        if assessment is None:
            fallback = self._pick_named(fits, policy.default_model or self._default_model) or strong
            why = (
                f"{' and '.join(sorted(needs))} requests are not judged by the router"
                if needs & {"tools", "vision"}
                else "no prompt embedding to judge by"
            )
            quality: dict[str, float | None] = {m.name: None for m in fits}
            chosen, reason = fallback, f"{label}: {why}; org default {fallback.name}"
        else:
            threshold = self._learned.threshold(floor, assessment.family) if self._learned else -math.inf
            online = self._online_view(request, org_id, embedding, assessment, floor, fits, strong, input_tokens)
            if online is not None:  # the org's own evidence: its loss estimate, and λ only where it has labels
                advice, judged = online
                assessment = advice.assessment
                threshold = advice.threshold if advice.covered else -math.inf
            losses = {m.name: _expected_loss(assessment.loss, m, strong) for m in fits}
            quality = {name: min(1.0, max(0.0, 1.0 - loss)) for name, loss in losses.items()}
            chosen, reason = self._best_trade_off(
                request, input_tokens, fits, costs, losses, threshold, strong, hints, label, assessment, floor
            )
            if online is not None and judged is not None:
                reason = f"{reason}; {online[0].reason}"
                sampled = self._sampled(judged, floor, costs, strong)
                if sampled:
                    chosen, reason = strong, f"{reason}; sampled to verify: {strong.name} answers"

        budget = hints.cost_budget
        if budget is not None:
            within = [m for m in fits if costs[m.name] is not None and _by_cost(costs[m.name]) <= budget]
            if not within:
                cheapest = min(fits, key=lambda m: _by_cost(costs[m.name]))
                raise AsahiError(
                    422,
                    "cost_budget_too_low",
                    f"cost_budget ${budget:.6f} is below the cheapest estimate, {_usd(costs[cheapest.name])} "
                    f"for {cheapest.name}.",
                    details={"cheapest_model": cheapest.name, "cheapest_estimate": costs[cheapest.name]},
                )
            if chosen not in within:
                best = max(within, key=lambda m: (quality[m.name] or 0.0, -_by_cost(costs[m.name])))
                chosen, reason = best, f"{reason}; over cost_budget ${budget:.6f}, so {best.name} instead"
        candidates = sorted(fits, key=lambda m: _by_cost(costs[m.name]))
        return Route(
            chosen,
            mode,
            reason,
            [Alternative(m.name, costs[m.name], quality[m.name]) for m in candidates],
            costs[chosen.name],
            judged=judged,
            label=sampled,
        )

    def _online_view(
        self, request: ChatRequest, org_id: str | None, embedding: npt.NDArray[np.float32] | None,
        assessment: Assessment, floor: float, fits: list[ModelInfo], strong: ModelInfo, input_tokens: int,
    ) -> tuple[Advice, Judged] | None:
        """The org's calibrated view of this request, and what a label of it would need."""
        if self.online is None or org_id is None or embedding is None:
            return None
        cheap = min((m for m in fits if m.quality <= CHEAP_TIER and m.priced),
                    key=lambda m: _by_cost(estimate_cost(m, input_tokens, 0)), default=None)
        unit = strong.output_price
        if cheap is None or not unit or not strong.priced:
            return None
        advice = self.online.advise(org_id, assessment, embedding, floor)

        def saved(tokens: int) -> float:
            strong_cost, cheap_cost = estimate_cost(strong, input_tokens, tokens), estimate_cost(cheap, input_tokens,
                                                                                              tokens)
            assert strong_cost is not None and cheap_cost is not None and unit
            return saving_tokens(strong_cost, cheap_cost, unit)

        saving = Saving(saved(0), saved(1) - saved(0))
        return advice, Judged(org_id, assessment, embedding, saving, cheap, floor)

    def _sampled(self, judged: Judged, floor: float, costs: dict[str, float | None], strong: ModelInfo) -> bool:
        """Whether this request is labelled: drawn with the org's adaptive probability (more while uncertain)."""
        assert self.online is not None
        strong_cost, cheap_cost = costs.get(strong.name), costs.get(judged.cheap.name)
        if not strong_cost or cheap_cost is None:
            return False
        # A label adds the cheap call and, for open questions, a judge about as costly as it.
        relative = 2 * cheap_cost / strong_cost
        p = self.online.shadow_probability(judged.org_id, judged.assessment.family, floor, relative_cost=relative)
        return self._rng.random() < p

    def _best_trade_off(
        self,
        request: ChatRequest,
        input_tokens: int,
        fits: list[ModelInfo],
        costs: dict[str, float | None],
        losses: dict[str, float],
        threshold: float,
        strong: ModelInfo,
        hints: RoutingHints,
        label: str,
        assessment: Assessment,
        floor: float,
    ) -> tuple[ModelInfo, str]:
        """The cost-aware rule: a model qualifies when its expected loss ≤ λ × its saving against the strong
        model; among those, the largest λ·saving − loss wins (or the smallest model for low latency)."""
        net = {strong.name: 0.0}
        strong_cost = self._rule_cost(request, input_tokens, strong, assessment)
        unit = strong.output_price
        for m in fits:
            cost = self._rule_cost(request, input_tokens, m, assessment)
            if m is strong or cost is None or strong_cost is None or not unit:
                continue  # an unpriced model's saving is unknown, so cost cannot justify it
            saving = saving_tokens(strong_cost, cost, unit)
            lossless = m.quality >= strong.quality and saving > 0
            if lossless or goes_cheap(losses[m.name], saving, threshold):
                # A λ below zero (a floor that only predicted gains can meet) must not count savings against a
                # model: a lossless switch still scores 0, a predicted gain more.
                net[m.name] = max(threshold, 0.0) * saving - losses[m.name]
        qualifying = [m for m in fits if m.name in net]
        if hints.latency == "low":
            chosen = min(qualifying, key=lambda m: (m.quality, _by_cost(costs[m.name])))
        else:
            chosen = max(qualifying, key=lambda m: (net[m.name], -_by_cost(costs[m.name])))
        return chosen, (
            f"{label}: expected loss on the cheap tier {assessment.loss:.1%} of {strong.name}'s quality, answer "
            f"~{assessment.answer_tokens:.0f} tokens; {chosen.name} is the "
            f"{'smallest' if hints.latency == 'low' else 'best-trade-off'} model keeping {floor:.0%} "
            f"(a cheaper model needs loss ≤ {threshold:.3g} × strong output tokens saved; "
            f"est. {_usd(costs[chosen.name])} vs {_usd(costs[strong.name])})"
        )

    @staticmethod
    def _rule_cost(request: ChatRequest, input_tokens: int, model: ModelInfo, assessment: Assessment) -> float | None:
        """The cost the rule compares: the prompt plus the predicted answer length, capped as the request caps it."""
        cap = min(request.max_tokens or model.max_output_tokens, model.max_output_tokens)
        answer = min(cap, round(assessment.answer_tokens)) * max(1, request.n)
        return estimate_cost(model, input_tokens, answer)

    def _predict(
        self, request: ChatRequest, embedding: npt.NDArray[np.float32] | None, needs: frozenset[str]
    ) -> Assessment | None:
        if self._learned is None or embedding is None or needs & {"tools", "vision"}:
            return None
        if embedding.shape != (self._learned.dimension,):
            return None  # another embedder's vector (e.g. Cohere): the model was not trained on it
        return self._learned.assess(embedding, request.last_user_text())

    @staticmethod
    def _pick_named(models: list[ModelInfo], name: str | None) -> ModelInfo | None:
        return next((m for m in models if m.name == name), None)

    def floor_of(self, policy: OrgPolicy) -> float:
        """The org's quality floor: its policy's, else the gateway's default."""
        return policy.quality_floor if policy.quality_floor is not None else self._floor_default

    def _floor(self, hints: RoutingHints, policy: OrgPolicy) -> float:
        own = self.floor_of(policy)
        wanted = hints.quality
        if wanted is None or wanted == "medium":
            return own
        if isinstance(wanted, str):
            if wanted not in QUALITY_WORDS:
                raise BadRequest('quality_preference must be "low", "medium", "high" or a number in 0..1.')
            return QUALITY_WORDS[wanted]
        if not 0.0 <= wanted <= 1.0:
            raise BadRequest("quality_preference must be a number in 0..1.")
        return float(wanted)
