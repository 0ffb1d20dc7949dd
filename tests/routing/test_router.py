from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asahi.domain import ChatRequest, ImagePart, Message, TextPart, Tool
from asahi.errors import AsahiError
from asahi.governance.policy import OrgPolicy
from asahi.routing.catalog import Catalog
from asahi.routing.hints import AUTO_MODEL, RoutingHints, RoutingMode
from asahi.routing.learned import LearnedRouter
from asahi.routing.router import Router
from tests.routing.conftest import constant_family

EMBEDDING = np.full(384, 1 / np.sqrt(384), dtype=np.float32)
POLICY = OrgPolicy(default_model="mid", baseline_model="big")


def request(text: str = "What is 2 + 2?", model: str = AUTO_MODEL, **kwargs: object) -> ChatRequest:
    return ChatRequest(model=model, messages=[Message("user", [TextPart(text)])], **kwargs)  # type: ignore[arg-type]


def test_explicit_model_is_honoured_even_when_a_cheaper_one_would_do(
    catalog: Catalog, learned: Callable[..., LearnedRouter]
) -> None:
    decision = Router(catalog, learned(0.0)).route(request(model="big"), POLICY, embedding=EMBEDDING)
    assert (decision.model.name, decision.mode) == ("big", RoutingMode.EXPLICIT)
    assert "explicit" in decision.reason


def test_unknown_model_is_404_listing_allowed(catalog: Catalog) -> None:
    with pytest.raises(AsahiError) as raised:
        Router(catalog).route(request(model="gpt-9"), OrgPolicy(allowed_models=sorted({"mid", "small"})))
    assert raised.value.status == 404
    assert raised.value.details["allowed_models"] == ["mid", "small"]
    assert "mid, small" in raised.value.message


def test_disallowed_model_is_403(catalog: Catalog) -> None:
    with pytest.raises(AsahiError) as raised:
        Router(catalog).route(request(model="big"), OrgPolicy(allowed_models=sorted({"small"})))
    assert raised.value.status == 403
    assert raised.value.code == "model_not_allowed"


def test_model_of_an_unconfigured_provider_is_not_available(catalog: Catalog) -> None:
    with pytest.raises(AsahiError) as raised:
        Router(catalog, providers=sorted({"openai"})).route(request(model="claude"), OrgPolicy())
    assert raised.value.status == 404


# "What is 2 + 2?" is 8 input tokens; with a 100-token answer big costs $3.08e-3, mid $4.08e-4, claude
# $1.524e-3 and small $4.08e-5, so against big small saves 101.3 output tokens of big, mid 89.1 and claude 51.9.
# With λ = 0.001 a model's score λ·saving − loss is 0.1013 − loss for small, 0.0891 − loss/2 for mid (half the
# gap) and 0.0519 for claude (the baseline's tier, no loss).


def test_autopilot_sends_easy_prompts_to_the_cheapest_model(
    catalog: Catalog, learned: Callable[..., LearnedRouter]
) -> None:
    decision = Router(catalog, learned(0.02)).route(request(), POLICY, embedding=EMBEDDING)
    assert decision.mode is RoutingMode.AUTOPILOT
    assert decision.model.name == "small"  # 0.0813 beats mid's 0.0791 and claude's 0.0519
    alternatives = {a.model: a for a in decision.alternatives}
    assert alternatives["free"].predicted_quality == pytest.approx(0.97)  # tier 2: 1.5 × the loss
    assert decision.alternatives[-1].model == "free"  # unpriced sorts last
    assert alternatives["big"].predicted_quality == 1.0
    assert alternatives["small"].predicted_quality == pytest.approx(0.98)
    assert alternatives["mid"].predicted_quality == pytest.approx(0.99)
    assert alternatives["small"].estimated_cost < alternatives["big"].estimated_cost  # type: ignore[operator]


def test_autopilot_never_picks_an_unpriced_model_on_cost_grounds(
    catalog: Catalog, learned: Callable[..., LearnedRouter]
) -> None:
    policy = OrgPolicy(allowed_models=sorted({"big", "free"}), baseline_model="big")
    decision = Router(catalog, learned(0.0)).route(request(), policy, embedding=EMBEDDING)
    assert decision.model.name == "big"  # free loses nothing by prediction, but its saving is unknown


def test_reason_gives_the_loss_the_answer_length_and_lambda(
    catalog: Catalog, learned: Callable[..., LearnedRouter]
) -> None:
    decision = Router(catalog, learned(0.02)).route(request(), POLICY, embedding=EMBEDDING)
    assert "expected loss on the cheap tier 2.0% of big's quality" in decision.reason
    assert "answer ~100 tokens" in decision.reason
    assert "loss ≤ 0.001 ×" in decision.reason


def test_autopilot_uses_the_middle_tier_when_unsure(catalog: Catalog, learned: Callable[..., LearnedRouter]) -> None:
    # loss 0.06: small scores 0.0413, mid 0.0891 − 0.03 = 0.0591, claude 0.0519.
    decision = Router(catalog, learned(0.06)).route(request(), POLICY, embedding=EMBEDDING)
    assert decision.model.name == "mid"


def test_autopilot_keeps_hard_prompts_on_the_baseline_tier(
    catalog: Catalog, learned: Callable[..., LearnedRouter]
) -> None:
    # loss 0.2: small needs ≤ 0.1013, mid ≤ 0.0891 for its 0.1; neither qualifies.
    router = Router(catalog, learned(0.2))
    assert router.route(request(), POLICY, embedding=EMBEDDING).model.name == "claude"  # same tier, cheaper than big
    openai_only = OrgPolicy(allowed_models=sorted({"big", "mid", "small"}), baseline_model="big")
    assert router.route(request(), openai_only, embedding=EMBEDDING).model.name == "big"


def test_without_embedding_or_model_the_org_default_answers(
    catalog: Catalog, learned: Callable[..., LearnedRouter]
) -> None:
    assert Router(catalog, learned(0.0)).route(request(), POLICY).model.name == "mid"
    assert Router(catalog).route(request(), POLICY, embedding=EMBEDDING).model.name == "mid"
    foreign = np.zeros(1024, dtype=np.float32)  # another embedder's vector
    decision = Router(catalog, learned(0.0)).route(request(), POLICY, embedding=foreign)
    assert decision.model.name == "mid"
    assert "no prompt embedding" in decision.reason


def test_tool_requests_go_to_default(catalog: Catalog, learned: Callable[..., LearnedRouter]) -> None:
    tools = [Tool("lookup", None, {"type": "object"})]
    decision = Router(catalog, learned(0.0)).route(request(tools=tools), POLICY, embedding=EMBEDDING)
    assert decision.model.name == "mid"
    assert "tools requests are not judged" in decision.reason


def test_image_requests_go_to_a_vision_model_when_default_cannot_see(
    catalog: Catalog, learned: Callable[..., LearnedRouter]
) -> None:
    image = ChatRequest(model=AUTO_MODEL, messages=[Message("user", [TextPart("what"), ImagePart(url="u")])])
    decision = Router(catalog, learned(0.0)).route(image, POLICY, embedding=EMBEDDING)
    assert decision.model.name == "big"  # mid has no vision; the baseline does
    assert {a.model for a in decision.alternatives} == {"big", "claude"}


def test_json_mode_drops_models_without_json(catalog: Catalog, learned: Callable[..., LearnedRouter]) -> None:
    json_request = request(response_format={"type": "json_object"})
    decision = Router(catalog, learned(0.0)).route(json_request, POLICY, embedding=EMBEDDING)
    assert decision.model.name == "small"
    assert "claude" not in {a.model for a in decision.alternatives}


def test_no_capable_allowed_model_is_400(catalog: Catalog) -> None:
    policy = OrgPolicy(allowed_models=sorted({"small"}))
    with pytest.raises(AsahiError) as raised:
        Router(catalog).route(request(tools=[Tool("t", None, {})]), policy)
    assert raised.value.status == 400
    assert "small" in raised.value.message


def test_long_prompt_skips_small_context_models(catalog: Catalog, learned: Callable[..., LearnedRouter]) -> None:
    long = request("word " * 10_000)  # ~12.5k tokens: beyond small's 8k window
    decision = Router(catalog, learned(0.0)).route(long, POLICY, embedding=EMBEDDING)
    assert decision.model.name == "mid"


def test_prompt_longer_than_every_allowed_context_is_413(catalog: Catalog) -> None:
    policy = OrgPolicy(allowed_models=sorted({"small", "mid"}))
    with pytest.raises(AsahiError) as raised:
        Router(catalog).route(request("lorem ipsum " * 100_000), policy)  # ~300k tokens
    assert raised.value.status == 413
    assert raised.value.details["limit"] == 100_000


def test_budget_no_model_meets_is_422_naming_cheapest(catalog: Catalog) -> None:
    with pytest.raises(AsahiError) as raised:
        Router(catalog).route(request(), POLICY, RoutingHints(cost_budget=1e-9))
    assert raised.value.status == 422
    assert raised.value.details["cheapest_model"] == "small"
    assert "small" in raised.value.message


def test_budget_overrides_the_floor_with_a_reason(catalog: Catalog, learned: Callable[..., LearnedRouter]) -> None:
    router = Router(catalog, learned(0.2))
    unbounded = router.route(request(), POLICY, embedding=EMBEDDING)
    costs = {a.model: a.estimated_cost for a in unbounded.alternatives}
    budget = costs["mid"] * 1.01  # type: ignore[operator]
    decision = router.route(request(), POLICY, RoutingHints(cost_budget=budget), embedding=EMBEDDING)
    assert decision.mode is RoutingMode.GUIDED
    assert decision.model.name == "mid"  # best predicted quality within the budget
    assert "over cost_budget" in decision.reason


def test_quality_preference_moves_the_floor(catalog: Catalog) -> None:
    family = constant_family(0.03)
    thresholds = np.tile([0.002, 0.001, 0.0001], (3, 1))  # a higher floor allows less loss per token saved
    learned = LearnedRouter("test", (family,) * 3, np.array([0.85, 0.9, 0.99]), thresholds)
    router = Router(catalog, learned)
    low = router.route(request(), POLICY, RoutingHints(quality="low"), embedding=EMBEDDING)
    high = router.route(request(), POLICY, RoutingHints(quality="high"), embedding=EMBEDDING)
    number = router.route(request(), POLICY, RoutingHints(quality=0.9), embedding=EMBEDDING)
    medium = router.route(request(), POLICY, embedding=EMBEDDING)  # the org's 0.95 takes the stricter 0.99
    assert low.model.name == "small"  # λ 0.002: small 0.2026 − 0.03 beats mid 0.1781 − 0.015
    assert number.model.name == "mid"  # λ 0.001: mid 0.0891 − 0.015 beats small 0.1013 − 0.03
    assert high.model.name == "claude"  # λ 0.0001: neither cheaper tier qualifies; the cheapest of the baseline's tier
    assert medium.model.name == "claude"


def test_low_latency_prefers_the_smallest_model_meeting_the_floor(
    catalog: Catalog, learned: Callable[..., LearnedRouter]
) -> None:
    policy = OrgPolicy(allowed_models=sorted({"big", "mid", "small", "claude"}), baseline_model="claude")
    decision = Router(catalog, learned(0.02)).route(
        request(), policy, RoutingHints(latency="low"), embedding=EMBEDDING
    )
    assert decision.model.name == "small"
    assert "smallest" in decision.reason


@pytest.mark.parametrize(
    "preferences",
    [RoutingHints(quality="best"), RoutingHints(quality=1.5), RoutingHints(cost_budget=0)],
)
def test_invalid_preferences_are_400(catalog: Catalog, preferences: RoutingHints) -> None:
    with pytest.raises(AsahiError) as raised:
        Router(catalog).route(request(), POLICY, preferences)
    assert raised.value.status == 400


def test_default_or_baseline_outside_the_allowed_set_is_ignored(catalog: Catalog) -> None:
    policy = OrgPolicy(allowed_models=sorted({"small", "mid"}), default_model="big", baseline_model="big")
    decision = Router(catalog).route(request(), policy)
    assert decision.model.name == "mid"  # the best allowed, not the disallowed default


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

    router = Router(Catalog.from_entries(MODELS), fixed_router(p))
    policy = OrgPolicy(allowed_models=frozenset(allowed), default_model=default)
    req = request(tools=[Tool("t", None, {})] if tools else [])
    try:
        decision = router.route(req, policy, RoutingHints(cost_budget=budget), embedding=EMBEDDING)
    except AsahiError as error:
        assert error.status in (400, 422)
        return
    assert decision.model.name in allowed
    assert all(a.model in allowed for a in decision.alternatives)


def test_the_same_loss_goes_cheap_on_a_long_prompt_and_stays_strong_on_a_short_one(
    catalog: Catalog, learned: Callable[..., LearnedRouter]
) -> None:
    # A one-token answer, loss 0.05, λ 0.001. Short prompt: small saves 3.6 tokens of big (λ·saving 0.0036 <
    # 0.05), mid 3.3 (0.0033 < 0.025). A 5,000-token prompt: small saves ~1,650 tokens, far above the bar.
    router = Router(catalog, learned(0.05, answer_tokens=1))
    openai_only = OrgPolicy(allowed_models=sorted({"big", "mid", "small"}), baseline_model="big")
    assert router.route(request(), openai_only, embedding=EMBEDDING).model.name == "big"
    assert router.route(request("word " * 4000), openai_only, embedding=EMBEDDING).model.name == "small"


def test_the_predicted_answer_length_is_part_of_the_saving_and_max_tokens_caps_it(
    catalog: Catalog, learned: Callable[..., LearnedRouter]
) -> None:
    openai_only = OrgPolicy(allowed_models=sorted({"big", "mid", "small"}), baseline_model="big")
    long_answer = Router(catalog, learned(0.05, answer_tokens=1000))
    assert long_answer.route(request(), openai_only, embedding=EMBEDDING).model.name == "small"
    capped = request(max_tokens=1)  # the caller allows one token: nothing to save on the answer
    assert long_answer.route(capped, openai_only, embedding=EMBEDDING).model.name == "big"


def test_a_route_nothing_threshold_keeps_the_baseline(catalog: Catalog) -> None:
    family = constant_family(-0.5)  # even a predicted gain does not pass λ = -inf
    learned = LearnedRouter("test", (family,) * 3, np.array([0.8, 1.0]), np.full((3, 2), -np.inf))
    openai_only = OrgPolicy(allowed_models=sorted({"big", "mid", "small"}), baseline_model="big")
    assert Router(catalog, learned).route(request(), openai_only, embedding=EMBEDDING).model.name == "big"


def test_low_latency_still_needs_the_saving_to_pay_for_the_loss(
    catalog: Catalog, learned: Callable[..., LearnedRouter]
) -> None:
    router = Router(catalog, learned(0.05, answer_tokens=1))
    openai_only = OrgPolicy(allowed_models=sorted({"big", "mid", "small"}), baseline_model="big")
    fast = RoutingHints(latency="low")
    assert router.route(request(), openai_only, fast, embedding=EMBEDDING).model.name == "big"
    assert router.route(request("word " * 4000), openai_only, fast, embedding=EMBEDDING).model.name == "small"


def test_each_family_has_its_own_threshold(catalog: Catalog) -> None:
    # The same loss and answer length: the open family's λ lets the cheap tier in, the multiple-choice one not,
    # and the word-problem one only the mid tier.
    family = constant_family(0.02, answer_tokens=100)
    thresholds = np.array([[0.001, 0.001], [0.0001, 0.0001], [0.0003, 0.0003]])  # open, choice, word problem
    router = Router(catalog, LearnedRouter("test", (family,) * 3, np.array([0.8, 1.0]), thresholds))
    openai_only = OrgPolicy(allowed_models=sorted({"big", "mid", "small"}), baseline_model="big")
    assert router.route(request("Which is right?"), openai_only, embedding=EMBEDDING).model.name == "small"
    choice = request("Which is right?\nA. one\nB. two")
    assert router.route(choice, openai_only, embedding=EMBEDDING).model.name == "big"
    problem = request("Ann has 12 pens and gives away 5. How many pens does she have left?")
    assert router.route(problem, openai_only, embedding=EMBEDDING).model.name == "mid"


def test_a_strict_floor_still_takes_a_cheaper_model_of_the_baselines_tier(catalog: Catalog) -> None:
    # λ < 0: only predicted gains pass for lower tiers, but claude (tier 5, cheaper than big) loses nothing.
    family = constant_family(0.02)
    learned = LearnedRouter("test", (family,) * 3, np.array([0.8, 1.0]), np.full((3, 2), -0.001))
    assert Router(catalog, learned).route(request(), POLICY, embedding=EMBEDDING).model.name == "claude"
    gain = constant_family(-0.5)  # the cheap tier predicted better: small passes −0.5 ≤ −0.001 × 101
    learned = LearnedRouter("test", (gain,) * 3, np.array([0.8, 1.0]), np.full((3, 2), -0.001))
    assert Router(catalog, learned).route(request(), POLICY, embedding=EMBEDDING).model.name == "small"
