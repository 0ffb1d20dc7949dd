"""The interface every provider adapter implements.

An adapter owns its provider's wire translation and nothing else: no caching, routing or pricing. The
pipeline calls `complete` or `stream` with the internal request and the concrete upstream model name.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from asahi.domain import ChatRequest, ChatResult, StreamEvent


class Provider(Protocol):
    name: str  # "openai", "anthropic", "simulator", or a configured compatible server's name

    async def complete(self, request: ChatRequest, model: str) -> ChatResult:
        """Answer `request` with upstream `model`; raise `ProviderError` on failure."""
        ...

    def stream(self, request: ChatRequest, model: str) -> AsyncIterator[StreamEvent]:
        """Yield the answer as events, ending with `FinishEvent`s and one `UsageEvent`.

        Raise `ProviderError` before the first event when the upstream refuses the call; an error after
        events were yielded is raised from the iterator and the surface ends its stream with an error event.
        """
        ...

    async def aclose(self) -> None: ...
