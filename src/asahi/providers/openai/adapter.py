"""OpenAI, and any server that speaks its Chat Completions API, over one pooled HTTP client."""

from __future__ import annotations

from typing import Any

from asahi.domain import ChatRequest, ChatResult, StreamEvent, Usage, UsageEvent
from asahi.providers.http import HttpProvider
from asahi.providers.openai.upstream import events_from_chunk, result_from_wire, to_wire

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# In-stream error bodies carry a type, not a status; this is the status each type stands for.
_STREAM_ERROR_STATUS = {"invalid_request_error": 400, "rate_limit_exceeded": 429, "requests": 429, "tokens": 429}


class ChunkTranslator:
    """`chat.completion.chunk` events; a stream that never reported usage still ends with one usage event."""

    def __init__(self) -> None:
        self.done = False
        self._saw_usage = False

    def translate(self, data: dict[str, Any], event: str | None) -> list[StreamEvent]:
        events = events_from_chunk(data)
        self._saw_usage = self._saw_usage or any(isinstance(e, UsageEvent) for e in events)
        return events

    def finish(self) -> list[StreamEvent]:
        # Some compatible servers ignore stream_options; the protocol still promises one usage event.
        return [] if self._saw_usage else [UsageEvent(Usage())]


class OpenAIProvider(HttpProvider):
    path = "/chat/completions"

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None = None,
        name: str = "openai",
        timeout: float = 120.0,
        *,
        max_tokens_field: str = "max_completion_tokens",
        pool_size: int = 100,
    ) -> None:
        self._max_tokens_field = max_tokens_field
        super().__init__(name, base_url or DEFAULT_BASE_URL, api_key, timeout=timeout, pool_size=pool_size)

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        # Local compatible servers often need no key; sending none beats sending a placeholder.
        return {"authorization": f"Bearer {api_key}"} if api_key else {}

    def to_wire(self, request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
        return to_wire(request, model, stream=stream, max_tokens_field=self._max_tokens_field)

    def result_from_wire(self, body: dict[str, Any]) -> ChatResult:
        return result_from_wire(body, self.name)

    def translator(self) -> ChunkTranslator:
        return ChunkTranslator()

    def error_message(self, body: Any) -> str | None:
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        return message if isinstance(message, str) else None

    def stream_error(self, data: dict[str, Any], event: str | None) -> int | None:
        error = data.get("error")
        if not isinstance(error, dict):
            return None
        return _STREAM_ERROR_STATUS.get(str(error.get("type") or error.get("code")), 500)
