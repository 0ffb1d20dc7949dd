"""Cascade mode: the cheap model answers first, and the routed model only when the cheap answer looks wrong.

Opted into per org (`cascade` in its policy) or per request (`x-asahi-cascade: on`). It applies where the router
would otherwise pay for a model above the cheap tier on a word problem, the one family the answer check
(`routing/verifier.py`) was trained on. The check reads the cheap answer alone (microseconds, no model call);
whether its score is low enough to keep the answer is the org's own calibration (`routing/online/cascade.py`),
which keeps an upper bound on the quality lost within the org's floor and keeps nothing until it has labels.
Labels come free from escalations (both answers are at hand) and from a sampled share of kept answers, whose
strong answer is fetched off the response path. Every cheap call that was not served, and every sampled strong
call, is booked under `routing_verification`, so the saving shown is net of what the check cost. A streamed
request is answered once the check has passed, as the replay of the kept answer.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, replace

from asahi.call import Call
from asahi.domain import ChatRequest, ChatResult
from asahi.errors import AsahiError
from asahi.providers.base import Account, Provider
from asahi.providers.resilience import Prepare, Resilience
from asahi.routing.catalog import ModelInfo
from asahi.routing.learned import FAMILIES
from asahi.routing.online import labels
from asahi.routing.router import Judged, Route
from asahi.routing.verifier import Verifier
from asahi.verification import RoutingVerifier

log = logging.getLogger(__name__)
WORD_PROBLEM = FAMILIES.index("word_problem")


@dataclass(frozen=True, slots=True)
class Cascaded:
    """The answer served, who gave it, and why."""

    result: ChatResult
    model: ModelInfo
    attempts: int  # provider calls made on the response path
    reason: str


class Cascade:
    def __init__(
        self, verification: RoutingVerifier, check: Verifier, providers: dict[str, Provider], resilience: Resilience,
        *, timeout: float, rng: random.Random | None = None,
    ) -> None:
        self._verification = verification
        self._check = check
        self._providers = providers
        self._resilience = resilience
        self._timeout = timeout
        self._rng = rng or random.Random()

    def applies(self, call: Call, route: Route, org_opted_in: bool) -> bool:
        """Opted in, judged by the learned router and sent above the cheap tier (nothing to gain when it already
        went cheap, and a request sampled for a routing label must stay as sampled), and a word problem."""
        wanted = call.routing.cascade if call.routing.cascade is not None else org_opted_in
        judged = route.judged
        return (
            wanted and judged is not None and not route.label and route.model.name != judged.cheap.name
            and judged.assessment.family == WORD_PROBLEM and not call.request.tools and call.request.n == 1
        )

    async def answer(self, call: Call, route: Route, prepare: Prepare, account: Account) -> Cascaded:
        judged = route.judged
        assert judged is not None  # `applies` said so
        request = replace(call.request, stream=False, include_usage=False)
        started = time.perf_counter()
        try:
            cheap, _ = await self._complete([judged.cheap], request, prepare, account)
        except AsahiError as exc:  # the strong model answers as it would have without the cascade
            log.info("cascade: the cheap call failed (%s); escalating", exc.code)
            return await self._escalate(route, request, prepare, account, None, 1)
        text = cheap.choices[0].message.text if cheap.choices else ""
        score = self._check.wrong_probability(request.last_user_text(), text)
        online = self._verification.online
        if online.cascade_check(judged.org_id, judged.assessment.family, score, judged.floor):
            if self._rng.random() < online.cascade_shadow_probability(judged.org_id, judged.assessment.family,
                                                                      judged.floor):
                self._verification.spawn(self._label_kept(call, route.model, judged, request, text, score))
            return Cascaded(cheap, judged.cheap, 1,
                            f"cascade: {judged.cheap.name} answered and its check passed (P(wrong) {score:.2f})")
        await self._verification.book(call, judged.cheap, cheap, time.perf_counter() - started)
        return await self._escalate(route, request, prepare, account, (text, score), 2,
                                    f" (P(wrong) {score:.2f} of {judged.cheap.name}'s answer)")

    async def _escalate(
        self, route: Route, request: ChatRequest, prepare: Prepare, account: Account,
        cheap: tuple[str, float] | None, attempts: int, why: str = "",
    ) -> Cascaded:
        judged = route.judged
        assert judged is not None
        strong, answered_by = await self._complete([route.model, *route.fallbacks], request, prepare, account)
        if cheap is not None:
            self._label(judged, cheap[0], strong, cheap[1])
        return Cascaded(strong, answered_by, attempts, f"cascade: escalated to {route.model.name}{why}")

    async def _label_kept(
        self, call: Call, routed: ModelInfo, judged: Judged, request: ChatRequest, text: str, score: float
    ) -> None:
        try:
            strong = await self._verification.ask(call, routed, request)
        except AsahiError as exc:
            log.info("cascade label skipped: %s", exc.code)
            return
        self._label(judged, text, strong, score)

    def _label(self, judged: Judged, cheap_text: str, strong: ChatResult, score: float) -> None:
        strong_text = strong.choices[0].message.text if strong.choices else ""
        loss = labels.exact_match_loss(cheap_text, strong_text, judged.assessment.family)
        if loss is not None:
            self._verification.record_cascade(judged.org_id, judged.assessment.family, score, loss)

    async def _complete(
        self, models: list[ModelInfo], request: ChatRequest, prepare: Prepare, account: Account
    ) -> tuple[ChatResult, ModelInfo]:
        """The answer of the first model of `models` whose provider answers, and that model."""
        result, attempts = await self._resilience.complete(
            [(self._providers[m.provider], m.name) for m in models], request,
            self._resilience.deadline_in(self._timeout), prepare, account,
        )
        name = attempts[-1].model if attempts else models[0].name
        return result, next((m for m in models if m.name == name), models[0])
