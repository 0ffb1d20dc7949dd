"""Routing verification: the labels that keep each org's routing within its quality floor.

A routed request the router sampled is answered by the strong model; off the response path the cheap-tier model
answers it too, and the two answers are compared: by exact match where answers are structured (a choice, a
number, JSON), else by a judge model with a fixed rubric. The label goes to the org's online calibration
(`routing/online/`), which moves what may go cheap so that an upper bound on the quality lost stays within the
floor. Every extra call is a cost in the ledger under its own cause, `routing_verification`, so saving figures
are net of them. `POST /feedback` on a routed answer is a label too, and free.

Each org's calibration is saved in `routing_org_models` (a few seconds after it changes) and loaded at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from asahi.call import Call, Outcome, new_request_id
from asahi.domain import ChatRequest, ChatResult, Message, TextPart
from asahi.errors import AsahiError
from asahi.governance.budgets.service import Budgets, refs
from asahi.governance.credentials import CredentialStore
from asahi.governance.policy import PolicyStore
from asahi.ledger.bill import Bill
from asahi.ledger.pricing import FREE, Cost, price
from asahi.ledger.recorder import LedgerWriter
from asahi.ledger.rows import row_for
from asahi.providers.base import Account, Provider
from asahi.providers.resilience import Resilience
from asahi.routing.catalog import ModelInfo
from asahi.routing.online import labels
from asahi.routing.online.service import OnlineRouting
from asahi.routing.router import Judged, Route
from asahi.store.tables import routing_org_models

log = logging.getLogger(__name__)
REMEMBERED = 100_000  # routed answers kept for feedback by request id
SAVE_EVERY = 5.0  # seconds between saves of the orgs whose calibration changed
JUDGE_MAX_TOKENS = 400
MAX_BACKGROUND = 200  # labels in flight; a burst beyond it is skipped rather than queued without bound


@dataclass(frozen=True, slots=True)
class Spending:
    """Whose account verification calls go out on (the org's own keys, where it stored some) and the budgets
    their cost counts against (the org's and the key's whose request is verified), as the request's own would."""

    credentials: CredentialStore
    policies: PolicyStore
    budgets: Budgets

    async def charged(self, call: Call, usd: float) -> None:
        policy = await self.policies.get(call.org_id)
        await self.budgets.charge(refs(call.org_id, policy.budgets, call.key.id, list(call.key.budgets)), usd)


class RoutingVerifier:
    def __init__(
        self, online: OnlineRouting, providers: dict[str, Provider], resilience: Resilience, ledger: LedgerWriter,
        engine: AsyncEngine, judge: ModelInfo | None, *, timeout: float = 60.0, rng: random.Random | None = None,
        spending: Spending | None = None,
    ) -> None:
        self.online = online
        self._providers = providers
        self._resilience = resilience
        self._ledger = ledger
        self._engine = engine
        self._judge = judge
        self._timeout = timeout
        self._rng = rng or random.Random()
        self._spending = spending
        self._recent: OrderedDict[str, Judged] = OrderedDict()
        self._changed: set[str] = set()
        self._background: set[asyncio.Task[None]] = set()
        self._saver: asyncio.Task[None] | None = None

    async def start(self) -> None:
        async with self._engine.connect() as connection:
            rows = (await connection.execute(select(routing_org_models))).all()
        for row in rows:
            self.online.load_org_state(row.org_id, row.state)
        self._saver = asyncio.create_task(self._saving())

    def answered(self, call: Call, route: Route, result: ChatResult) -> None:
        """A routed answer was served: its length teaches the calibration; a sampled one is labelled."""
        judged = route.judged
        if judged is None or not result.choices:
            return
        self.online.record_answer(judged.org_id, judged.assessment.family, judged.assessment.answer_tokens,
                                  result.usage.output_tokens)
        self._changed.add(judged.org_id)
        self._recent[call.request_id] = judged
        if len(self._recent) > REMEMBERED:
            self._recent.popitem(last=False)
        if route.label and len(self._background) < MAX_BACKGROUND:
            self._spawn(self._label(call, judged, result.choices[0].message.text))

    def feedback(self, org_id: str, request_id: str, correct: bool) -> bool:
        """A user's verdict on a routed answer; False when the request is unknown or another org's."""
        judged = self._recent.get(request_id)
        if judged is None or judged.org_id != org_id:
            return False
        self.online.record(org_id, judged.assessment, judged.embedding, labels.feedback_loss(correct),
                           saving=judged.saving, feedback=True)
        self._changed.add(org_id)
        return True

    async def _label(self, call: Call, judged: Judged, strong_answer: str) -> None:
        request = replace(call.request, stream=False, include_usage=False)
        try:
            cheap = await self.ask(call, judged.cheap, request)
            json_mode = (request.response_format or {}).get("type") in ("json_object", "json_schema")
            cheap_answer = cheap.choices[0].message.text if cheap.choices else ""
            loss = labels.exact_match_loss(cheap_answer, strong_answer, judged.assessment.family, json_mode)
            if loss is None and self._judge is not None:
                cheap_first = self._rng.random() < 0.5
                prompt = labels.judge_prompt(request.last_user_text(), cheap_answer, strong_answer, cheap_first)
                question = ChatRequest(model=self._judge.name, messages=[Message("user", [TextPart(prompt)])],
                                       max_tokens=JUDGE_MAX_TOKENS)
                verdict = await self.ask(call, self._judge, question)
                loss = labels.verdict_loss(verdict.choices[0].message.text if verdict.choices else "", cheap_first)
        except AsahiError as exc:  # a label not had is only a label fewer; the answer was already served
            log.info("routing verification skipped: %s", exc.code)
            return
        if loss is None:
            return
        self.online.record(judged.org_id, judged.assessment, judged.embedding, loss, saving=judged.saving)
        self._changed.add(judged.org_id)

    async def ask(self, call: Call, model: ModelInfo, request: ChatRequest) -> ChatResult:
        """One extra call on the org's account, booked as a cost of verification."""
        started = time.perf_counter()
        account = Account(call.org_id)
        if self._spending is not None:
            account = Account(call.org_id, credentials=await self._spending.credentials.for_org(call.org_id))
        result, _ = await self._resilience.complete(
            [(self._providers[model.provider], model.name)], request,
            self._resilience.deadline_in(self._timeout), account=account,
        )
        await self.book(call, model, result, time.perf_counter() - started)
        return result

    async def book(self, call: Call, model: ModelInfo, result: ChatResult, seconds: float) -> None:
        """A ledger row of its own, cause `routing_verification`, for a call made only to check an answer: its
        cost counts against every saving figure."""
        cost = price(model, result.usage)
        if self._spending is not None and cost.usd:
            await self._spending.charged(call, cost.usd)
        negative = Cost(None if cost.usd is None else -cost.usd)
        outcome = Outcome(
            request_id=new_request_id(), model=model.name, provider=model.provider, cache="bypass",
            routing_reason=f"routing verification of {call.request_id}", bill=Bill(cost, FREE, negative,
                                                                                   "routing_verification"),
            latency_ms=seconds * 1000,
        )
        self._ledger.record(row_for(replace(call, request_id=outcome.request_id), outcome, result.usage, 200))

    def record_cascade(self, org_id: str, family: int, score: float, loss: float) -> None:
        """A cascade label: the cheap answer (its check score) against the strong one."""
        self.online.cascade_record(org_id, family, score, loss)
        self._changed.add(org_id)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> bool:
        """Run `coro` off the response path; False (and closed) when too many are in flight already."""
        if len(self._background) >= MAX_BACKGROUND:
            coro.close()
            return False
        self._spawn(coro)
        return True

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _saving(self) -> None:
        while True:
            await asyncio.sleep(SAVE_EVERY)
            await self.save()

    async def save(self) -> None:
        """Persist the orgs whose calibration changed since the last save."""
        changed, self._changed = self._changed, set()
        for org_id in changed:
            state = self.online.org_state(org_id)
            try:
                async with self._engine.begin() as connection:
                    await connection.execute(_upsert(self._engine, org_id, state))
            except Exception as exc:  # noqa: BLE001  # kept in memory; saved again at the next round
                self._changed.add(org_id)
                log.warning("routing calibration not saved: %s", type(exc).__name__)

    async def aclose(self) -> None:
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._saver is not None:
            self._saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._saver
        await self.save()


def _upsert(engine: AsyncEngine, org_id: str, state: dict[str, Any]) -> Any:
    values = {"org_id": org_id, "state": state, "updated_at": datetime.now(UTC)}
    insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    statement = insert(routing_org_models).values(**values)
    return statement.on_conflict_do_update(index_elements=["org_id"],
                                           set_={"state": values["state"], "updated_at": values["updated_at"]})
