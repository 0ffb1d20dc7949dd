"""`POST /v1/responses` on the chat pipeline: the conversation a `previous_response_id` names is loaded (per org)
and put before the new input, the request runs `Pipeline.run` like any chat request (tier 1/2, routing,
providers, ledger), and the answer's conversation is kept for the next turn unless `store` is false.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from asahi.call import CacheDirective, Call, Outcome
from asahi.domain import ChatRequest
from asahi.errors import BadRequest
from asahi.governance.keys import KeyRecord
from asahi.pipeline import Pipeline
from asahi.providers.openai.responses import ResponseOptions, to_messages
from asahi.store.responses import ResponseStore


def response_id(request_id: str) -> str:
    return "resp_" + request_id.removeprefix("req_")


class ResponsesPath:
    def __init__(self, pipeline: Pipeline, store: ResponseStore) -> None:
        self._pipeline = pipeline
        self._store = store

    async def history(self, key: KeyRecord, options: ResponseOptions) -> list[dict[str, Any]]:
        """The items of the conversation `previous_response_id` names, this org's only."""
        if options.previous_response_id is None:
            return []
        items = await self._store.get(key.org_id, options.previous_response_id)
        if items is None:
            raise BadRequest(f"Previous response with id {options.previous_response_id!r} not found.",
                             code="previous_response_not_found", param="previous_response_id")
        return items

    async def run(self, request_id: str, key: KeyRecord, chat: ChatRequest, options: ResponseOptions,
                  earlier: list[dict[str, Any]], cache: CacheDirective) -> Outcome:
        if earlier:
            system = [m for m in chat.messages[:1] if m.role == "system" and options.instructions]
            chat = replace(chat, messages=[*system, *to_messages(earlier, "previous_response_id"),
                                           *chat.messages[len(system):]])
        return await self._pipeline.run(Call(request_id, "openai", key, chat, cache=cache))

    async def remember(self, key: KeyRecord, rid: str, options: ResponseOptions, earlier: list[dict[str, Any]],
                       output: list[dict[str, Any]]) -> None:
        if options.store:
            await self._store.put(key.org_id, rid, [*earlier, *options.input_items, *output])
