"""The interface every provider adapter implements.

An adapter owns its provider's wire translation and nothing else: no caching, routing or pricing. The
pipeline calls `complete` or `stream` with the internal request, the concrete upstream model name, and the
account the call goes out on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from asahi.domain import ChatRequest, ChatResult, StreamEvent


@dataclass(frozen=True, slots=True)
class Account:
    """Whose provider account a call goes out on.

    `credentials` are the org's own keys by provider name (BYOK); a provider without one there, like an Account
    without any, goes out on the operator's configured key. `api_key` is the key for the one provider a call is
    made to, set by `for_provider`. Provider-side state that real providers keep per account (their prompt caches)
    is keyed by it.
    """

    org_id: str
    api_key: str | None = None
    credentials: Mapping[str, str] = field(default_factory=dict)

    def for_provider(self, provider: str) -> Account:
        if not self.credentials:
            return self
        own = self.credentials.get(provider)
        return self if own == self.api_key else Account(self.org_id, own, self.credentials)


class Provider(Protocol):
    name: str  # "openai", "anthropic", "simulator", or a configured compatible server's name

    async def complete(self, request: ChatRequest, model: str, account: Account | None = None) -> ChatResult:
        """Answer `request` with upstream `model`; raise `ProviderError` on failure."""
        ...

    def stream(self, request: ChatRequest, model: str, account: Account | None = None) -> AsyncIterator[StreamEvent]:
        """Yield the answer as events, ending with `FinishEvent`s and one `UsageEvent`.

        Raise `ProviderError` before the first event when the upstream refuses the call; an error after
        events were yielded is raised from the iterator and the surface ends its stream with an error event.
        """
        ...

    async def aclose(self) -> None: ...
