"""`POST /v1/messages/count_tokens`: a prompt's input tokens before it is sent, admitted like any request.

Claude's tokenizer is not published, so for a Claude model served by Anthropic the count is Anthropic's own (the
body goes there as the client sent it: the endpoint is free). Every other model is counted here with a real BPE
(`routing/tokens.py`: exact for OpenAI models). `how` says which: `provider`, `exact` or `estimate`. Nothing is
billed, so no ledger row is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from asahi.errors import AsahiError
from asahi.governance.keys import KeyRecord
from asahi.pipeline import Pipeline
from asahi.providers.anthropic.adapter import AnthropicProvider
from asahi.providers.anthropic.surface import parse_request
from asahi.providers.base import Provider
from asahi.routing.cost import estimate_input_tokens
from asahi.routing.router import Router
from asahi.routing.tokens import is_exact


@dataclass(frozen=True, slots=True)
class TokenCount:
    input_tokens: int
    how: Literal["provider", "exact", "estimate"]
    model: str


class CountTokensPath:
    def __init__(self, pipeline: Pipeline, router: Router, providers: dict[str, Provider]) -> None:
        self._pipeline = pipeline
        self._router = router
        self._providers = providers

    async def run(self, key: KeyRecord, body: dict[str, Any]) -> TokenCount:
        # The counting body has no max_tokens; the Messages parser wants one, and it changes no count.
        request = parse_request({**body, "max_tokens": 1, "stream": False})
        policy = await self._pipeline.admit(key)
        model = next((m for m in self._router.allowed(policy) if m.name == request.model), None)
        if model is None:
            known = any(m.name == request.model for m in self._router.served())
            status, verb = (403, "is not allowed") if known else (404, "is not available")
            raise AsahiError(status, "model_not_allowed" if known else "model_not_found",
                             f"Model {request.model!r} {verb}.")
        provider = self._providers.get(model.provider)
        if isinstance(provider, AnthropicProvider):
            account = (await self._pipeline.account(key.org_id)).for_provider(provider.name)
            answer = await provider.call_json("/v1/messages/count_tokens", body, account)
            return TokenCount(int(answer.get("input_tokens") or 0), "provider", model.name)
        name = model.stands_in_for or model.name
        return TokenCount(estimate_input_tokens(request, name), "exact" if is_exact(name) else "estimate",
                          model.name)
