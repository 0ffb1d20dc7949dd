"""Anthropic through the official async SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import httpx2
import orjson
from anthropic import AsyncAnthropic, AsyncStream, DefaultAioHttpClient, DefaultAsyncHttpxClient
from anthropic.types import Message as WireMessage

from asahi.domain import ChatRequest, ChatResult, StreamEvent
from asahi.errors import ProviderError
from asahi.providers.anthropic.upstream import EventTranslator, result_from_wire, to_wire
from asahi.providers.base import Account
from asahi.providers.upstream_errors import connection_error, status_error, timeout_error

# An `event: error` mid-stream reaches the SDK on a 200 response; its type says what the status would have been.
_STREAM_ERROR_STATUS = {"overloaded_error": 529, "rate_limit_error": 429, "invalid_request_error": 400}


def map_error(err: anthropic.APIError, provider: str) -> ProviderError:
    """529 overloaded and 429 stay retryable with their retry-after; see `upstream_errors` for the rest."""
    if isinstance(err, anthropic.APITimeoutError):
        return timeout_error(provider)
    if isinstance(err, anthropic.APIConnectionError):
        return connection_error(provider, err.message)
    if isinstance(err, anthropic.APIStatusError):
        status = err.status_code if err.status_code >= 400 else _STREAM_ERROR_STATUS.get(err.type or "", 500)
        return status_error(provider, status, err.api_message or err.message, err.response.headers)
    # A body the SDK could not read as a message.
    return ProviderError(502, "provider_error", f"{provider} failed: {err.message}", provider=provider,
                         retryable=True)


class AnthropicProvider:
    """One pooled SDK client per instance; retries are off because the resilience layer owns them.

    Uses the SDK's aiohttp transport for the same measured reason as `OpenAIProvider`.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        name: str = "anthropic",
        timeout: float = 120.0,
        *,
        default_max_tokens: int = 4096,
        aiohttp: bool = True,
    ) -> None:
        self.name = name
        self._default_max_tokens = default_max_tokens
        self._client = AsyncAnthropic(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
            http_client=DefaultAioHttpClient() if aiohttp else DefaultAsyncHttpxClient(),
        )

    async def complete(self, request: ChatRequest, model: str, account: Account | None = None) -> ChatResult:
        wire = to_wire(request, model, default_max_tokens=self._default_max_tokens)
        wire.pop("stream", None)
        try:
            # As in `OpenAIProvider`: the client's own request path (auth, version header, errors, timeouts)
            # without the resource method's parameter transform and response models.
            response = await self._client.post("/v1/messages", body=wire, cast_to=httpx2.Response)
            message = orjson.loads(await response.aread())
        except anthropic.APIError as err:
            raise map_error(err, self.name) from err
        except orjson.JSONDecodeError as err:
            raise ProviderError(502, "provider_error", f"{self.name} sent a body that is not JSON.",
                                provider=self.name, retryable=True) from err
        if not isinstance(message, dict):
            raise ProviderError(502, "provider_error", f"{self.name} sent a body that is not a message.",
                                provider=self.name, retryable=True)
        return result_from_wire(message, self.name)

    async def stream(
        self, request: ChatRequest, model: str, account: Account | None = None
    ) -> AsyncIterator[StreamEvent]:
        wire = to_wire(request, model, default_max_tokens=self._default_max_tokens)
        wire["stream"] = True
        translator = EventTranslator()
        try:
            # `AsyncStream[object]` hands over each event's JSON as is, without building the SDK's event models.
            events = await self._client.post(
                "/v1/messages", body=wire, cast_to=WireMessage, stream=True, stream_cls=AsyncStream[object],
            )
            async with events:
                async for event in events:
                    if not isinstance(event, dict):
                        raise ProviderError(502, "provider_error", f"{self.name} sent a stream event that is not "
                                            "a JSON object.", provider=self.name, retryable=False)
                    for translated in translator.translate(event):
                        yield translated
        except anthropic.APIError as err:
            raise map_error(err, self.name) from err
        except httpx2.TransportError as err:
            # A connection dropped mid-stream surfaces from the transport, not as an SDK error.
            raise connection_error(self.name, str(err) or type(err).__name__) from err

    async def aclose(self) -> None:
        await self._client.close()
