from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asahi.domain import ChatRequest, ImagePart, Message, TextPart, Tool
from asahi.errors import AsahiError
from asahi.routing.catalog import Catalog
from asahi.routing.learned import LearnedRouter
from asahi.routing.router import (
    AUTO_MODEL,
    OrgRoutingPolicy,
    Router,
    RoutingMode,
    RoutingPreferences,
)
from tests.routing.conftest import constant_family

EMBEDDING = np.full(384, 1 / np.sqrt(384), dtype=np.float32)
POLICY = OrgRoutingPolicy(default_model="mid", baseline_model="big")


def request(text: str = "What is 2 + 2?", model: str = AUTO_MODEL, **kwargs: object) -> ChatRequest:
    return ChatRequest(model=model, messages=[Message("user", [TextPart(text)])], **kwargs)  # type: ignore[arg-type]


def test_explicit_model_is_honoured_even_when_a_cheaper_one_would_do(
    catalog: Catalog, learned: Callable[..., LearnedRouter]
) -> None:
    decision = Router(catalog, learned(0.99)).route(request(model="big"), POLICY, embedding=EMBEDDING)
    assert (decision.model, decision.mode) == ("big", RoutingMode.EXPLICIT)
    assert "explicit" in decision.reason


def test_unknown_model_is_404_listing_allowed(catalog: Catalog) -> None:
    with pytest.raises(AsahiError) as raised:
        Router(catalog).route(request(model="gpt-9"), OrgRoutingPolicy(allowed_models=frozenset({"mid", "small"})))
    assert raised.value.status == 404
    assert raised.value.details["allowed_models"] == ["mid", "small"]
    assert "mid, small" in raised.value.message


def test_disallowed_model_is_403(catalog: Catalog) -> None:
    with pytest.raises(AsahiError) as raised:
        Router(catalog).route(request(model="big"), OrgRoutingPolicy(allowed_models=frozenset({"small"})))
    assert raised.value.status == 403
    assert raised.value.code == "model_not_allowed"


def test_model_of_an_unconfigured_provider_is_not_available(catalog: Catalog) -> None:
    with pytest.raises(AsahiError) as raised:
        Router(catalog, providers=frozenset({"openai"})).route(request(model="claude"), OrgRoutingPolicy())
    assert raised.value.status == 404


def test_autopilot_sends_easy_prompts_to_the_cheapest_model(
    catalog: Catalog, learned: Callable[..., LearnedRouter]
) -> None:
    decision = Router(catalog, learned(0.9)).route(request(), POLICY, embedding=EMBEDDING)
    assert decision.mode is RoutingMode.AUTOPILOT
    assert decision.model == "small"
    alternatives = {a.model: a for a in decision.alternatives}
    assert alternatives["free"].predicted_quality == pytest.approx(0.85)  # meets 0.8, but unpriced sorts last
    assert decision.alternatives[-1].model == "free"
    assert alternatives["big"].predicted_quality == 1.0
    assert alternatives["small"].predicted_quality == pytest.approx(0.9)
    assert alternatives["mid"].predicted_quality == pytest.approx(0.95)
    assert alternatives["small"].estimated_cost < alternatives["big"].estimated_cost  # type: ignore[operator]


def test_autopilot_prefers_priced_cheap_tier_over_unpriced(
    catalog: Catalog, learned: Callable[..., LearnedRouter]
) -> None:
    decision = Router(catalog, learned(0.85)).route(request(), POLICY, embedding=EMBEDDING)
    assert decision.model == "small"
    assert "P(cheap tier as good as big) = 0.85" in decision.reason


def test_autopilot_uses_the_middle_tier_when_unsure(catalog: Catalog, learned: Callable[..., LearnedRouter]) -> None:
    # p = 0.7: the cheap tier (0.7) misses 0.8, the middle tier (1 − 0.3/2 = 0.85) meets it.
    decision = Router(catalog, learned(0.7)).route(request(), POLICY, embedding=EMBEDDING)
    assert decision.model == "mid"


def test_autopilot_keeps_hard_prompts_on_the_baseline_tier(
    catalog: Catalog, learned: Callable[..., LearnedRouter]
) -> None:
    router = Router(catalog, learned(0.2))
    assert router.route(request(), POLICY, embedding=EMBEDDING).model == "claude"  # same tier, cheaper than big
    openai_only = OrgRoutingPolicy(allowed_models=frozenset({"big", "mid", "small"}), baseline_model="big")
    assert router.route(request(), openai_only, embedding=EMBEDDING).model == "big"


def test_without_embedding_or_model_the_org_default_answers(
    catalog: Catalog, learned: Callable[..., LearnedRouter]
) -> None:
    assert Router(catalog, learned(0.99)).route(request(), POLICY).model == "mid"
    assert Router(catalog).route(request(), POLICY, embedding=EMBEDDING).model == "mid"
    foreign = np.zeros(1024, dtype=np.float32)  # another embedder's vector
    decision = Router(catalog, learned(0.99)).route(request(), POLICY, embedding=foreign)
    assert decision.model == "mid"
    assert "no prompt embedding" in decision.reason


def test_tool_requests_go_to_default(catalog: Catalog, learned: Callable[..., LearnedRouter]) -> None:
    tools = [Tool("lookup", None, {"type": "object"})]
    decision = Router(catalog, learned(0.99)).route(request(tools=tools), POLICY, embedding=EMBEDDING)
    assert decision.model == "mid"
    assert "tools requests are not judged" in decision.reason


def test_image_requests_go_to_a_vision_model_when_default_cannot_see(
    catalog: Catalog, learned: Callable[..., LearnedRouter]
) -> None:
    image = ChatRequest(model=AUTO_MODEL, messages=[Message("user", [TextPart("what"), ImagePart(url="u")])])
    decision = Router(catalog, learned(0.99)).route(image, POLICY, embedding=EMBEDDING)
    assert decision.model == "big"  # mid has no vision; the baseline does
    assert {a.model for a in decision.alternatives} == {"big", "claude"}


def test_json_mode_drops_models_without_json(catalog: Catalog, learned: Callable[..., LearnedRouter]) -> None:
    json_request = request(response_format={"type": "json_object"})
    decision = Router(catalog, learned(0.99)).route(json_request, POLICY, embedding=EMBEDDING)
    assert decision.model == "small"
    assert "claude" not in {a.model for a in decision.alternatives}


def test_no_capable_allowed_model_is_400(catalog: Catalog) -> None:
    policy = OrgRoutingPolicy(allowed_models=frozenset({"small"}))
    with pytest.raises(AsahiError) as raised:
        Router(catalog).route(request(tools=[Tool("t", None, {})]), policy)
    assert raised.value.status == 400
    assert "small" in raised.value.message


def test_long_prompt_skips_small_context_models(catalog: Catalog, learned: Callable[..., LearnedRouter]) -> None:
    long = request("word " * 10_000)  # ~12.5k tokens: beyond small's 8k window
    decision = Router(catalog, learned(0.99)).route(long, POLICY, embedding=EMBEDDING)
    assert decision.model == "mid"


def test_prompt_longer_than_every_allowed_context_is_413(catalog: Catalog) -> None:
    policy = OrgRoutingPolicy(allowed_models=frozenset({"small", "mid"}))
    with pytest.raises(AsahiError) as raised:
        Router(catalog).route(request("x" * 500_000), policy)
    assert raised.value.status == 413
    assert raised.value.details["limit"] == 100_000


def test_budget_no_model_meets_is_422_naming_cheapest(catalog: Catalog) -> None:
    with pytest.raises(AsahiError) as raised:
        Router(catalog).route(request(), POLICY, RoutingPreferences(cost_budget=1e-9))
    assert raised.value.status == 422
    assert raised.value.details["cheapest_model"] == "small"
    assert "small" in raised.value.message


def test_budget_overrides_the_floor_with_a_reason(catalog: Catalog, learned: Callable[..., LearnedRouter]) -> None:
    router = Router(catalog, learned(0.2))
    unbounded = router.route(request(), POLICY, embedding=EMBEDDING)
    costs = {a.model: a.estimated_cost for a in unbounded.alternatives}
    budget = costs["mid"] * 1.01  # type: ignore[operator]
    decision = router.route(request(), POLICY, RoutingPreferences(cost_budget=budget), embedding=EMBEDDING)
    assert decision.mode is RoutingMode.GUIDED
    assert decision.model == "mid"  # best predicted quality within the budget
    assert "over cost_budget" in decision.reason


def test_quality_preference_moves_the_floor(catalog: Catalog) -> None:
    family = constant_family(0.8)
    learned = LearnedRouter("test", (family, family), np.array([0.8, 0.9, 1.0]), np.array([0.5, 0.7, 0.95]))
    router = Router(catalog, learned)
    low = router.route(request(), POLICY, RoutingPreferences(quality="low"), embedding=EMBEDDING)
    high = router.route(request(), POLICY, RoutingPreferences(quality="high"), embedding=EMBEDDING)
    number = router.route(request(), POLICY, RoutingPreferences(quality=0.9), embedding=EMBEDDING)
    assert low.model == "small"
    assert high.model == "claude"  # the cheapest model of the baseline's tier
    assert number.model == "small"


def test_low_latency_prefers_the_smallest_model_meeting_the_floor(
    catalog: Catalog, learned: Callable[..., LearnedRouter]
) -> None:
    policy = OrgRoutingPolicy(allowed_models=frozenset({"big", "mid", "small", "claude"}), baseline_model="claude")
    decision = Router(catalog, learned(0.9)).route(
        request(), policy, RoutingPreferences(latency="low"), embedding=EMBEDDING
    )
    assert decision.model == "small"
    assert "smallest" in decision.reason


@pytest.mark.parametrize(
    "preferences",
    [RoutingPreferences(quality="best"), RoutingPreferences(quality=1.5), RoutingPreferences(cost_budget=0)],
)
def test_invalid_preferences_are_400(catalog: Catalog, preferences: RoutingPreferences) -> None:
    with pytest.raises(AsahiError) as raised:
        Router(catalog).route(request(), POLICY, preferences)
    assert raised.value.status == 400


def test_default_or_baseline_outside_the_allowed_set_is_ignored(catalog: Catalog) -> None:
    policy = OrgRoutingPolicy(allowed_models=frozenset({"small", "mid"}), default_model="big", baseline_model="big")
    decision = Router(catalog).route(request(), policy)
    assert decision.model == "mid"  # the best allowed, not the disallowed default


@settings(max_examples=60, deadline=None)
@given(
    allowed=st.sets(st.sampled_from(["big", "mid", "small", "claude", "free"]), min_size=1),
    p=st.floats(0.01, 0.99),
    tools=st.booleans(),
    budget=st.one_of(st.none(), st.floats(1e-7, 1e-2)),
    default=st.sampled_from([None, "big", "mid", "small", "claude", "free"]),
)
def test_never_routes_outside_the_allowed_models(
    allowed: set[str], p: float, tools: bool, budget: float | None, default: str | None
) -> None:
    from tests.routing.conftest import MODELS, fixed_router

    router = Router(Catalog.from_config({"models": MODELS}), fixed_router(p))
    policy = OrgRoutingPolicy(allowed_models=frozenset(allowed), default_model=default)
    req = request(tools=[Tool("t", None, {})] if tools else [])
    try:
        decision = router.route(req, policy, RoutingPreferences(cost_budget=budget), embedding=EMBEDDING)
    except AsahiError as error:
        assert error.status in (400, 422)
        return
    assert decision.model in allowed
    assert all(a.model in allowed for a in decision.alternatives)
