"""Anthropic's Messages API over one pooled HTTP client."""

from __future__ import annotations

from typing import Any

from asahi.domain import ChatRequest, ChatResult
from asahi.providers.anthropic.upstream import MessageEventTranslator, result_from_wire, to_wire
from asahi.providers.http import HttpProvider

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
# An `event: error` mid-stream arrives on a 200 response; its type says what the status would have been.
_STREAM_ERROR_STATUS = {"overloaded_error": 529, "rate_limit_error": 429, "invalid_request_error": 400,
                        "request_too_large": 413}


class AnthropicProvider(HttpProvider):
    path = "/v1/messages"

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None = None,
        name: str = "anthropic",
        timeout: float = 120.0,
        *,
        default_max_tokens: int = 4096,
        pool_size: int = 100,
    ) -> None:
        self._default_max_tokens = default_max_tokens
        super().__init__(name, base_url or DEFAULT_BASE_URL, api_key, timeout=timeout, pool_size=pool_size)

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        return headers

    def to_wire(self, request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
        return to_wire(request, model, stream=stream, default_max_tokens=self._default_max_tokens)

    def result_from_wire(self, body: dict[str, Any]) -> ChatResult:
        return result_from_wire(body, self.name)

    def translator(self) -> MessageEventTranslator:
        return MessageEventTranslator()

    def error_message(self, body: Any) -> str | None:
        error = body.get("error") if isinstance(body, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        return message if isinstance(message, str) else None

    def stream_error(self, data: dict[str, Any], event: str | None) -> int | None:
        if data.get("type") != "error" and event != "error":
            return None
        error = data.get("error")
        kind = error.get("type") if isinstance(error, dict) else None
        return _STREAM_ERROR_STATUS.get(str(kind), 500)
