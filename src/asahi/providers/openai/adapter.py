"""OpenAI (and any server that speaks its Chat Completions API) through the official async SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import openai
import orjson
from openai import AsyncOpenAI, AsyncStream, DefaultAioHttpClient, DefaultAsyncHttpxClient
from openai.types.chat import ChatCompletion

from asahi.domain import ChatRequest, ChatResult, StreamEvent, Usage, UsageEvent
from asahi.errors import ProviderError
from asahi.providers.base import Account
from asahi.providers.openai.upstream import events_from_chunk, result_from_wire, to_wire
from asahi.providers.upstream_errors import connection_error, status_error, timeout_error


def map_error(err: openai.APIError, provider: str) -> ProviderError:
    if isinstance(err, openai.APITimeoutError):
        return timeout_error(provider)
    if isinstance(err, openai.APIConnectionError):
        return connection_error(provider, err.message)
    if isinstance(err, openai.APIStatusError):
        # The SDK's own message prefixes "Error code: N - "; the body's message alone reads better.
        body = err.body if isinstance(err.body, dict) else {}
        message = body.get("message")
        if not isinstance(message, str):
            message = err.message
        return status_error(provider, err.status_code, message, err.response.headers)
    # A body the SDK could not read, or an error event inside a stream.
    return ProviderError(502, "provider_error", f"{provider} failed: {err.message}", provider=provider,
                         retryable=True)


class OpenAIProvider:
    """One pooled SDK client per instance; retries are off because the resilience layer owns them.

    The SDK's aiohttp transport is the default: against a loopback server it served more requests per second
    at a lower median than the httpx transport (see the provider notes for the figures).
    """

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        name: str = "openai",
        timeout: float = 120.0,
        *,
        max_tokens_field: str = "max_completion_tokens",
        aiohttp: bool = True,
    ) -> None:
        self.name = name
        self._max_tokens_field = max_tokens_field
        self._client = AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
            http_client=DefaultAioHttpClient() if aiohttp else DefaultAsyncHttpxClient(),
        )

    async def complete(self, request: ChatRequest, model: str, account: Account | None = None) -> ChatResult:
        wire = to_wire(request, model, max_tokens_field=self._max_tokens_field)
        wire.pop("stream", None)
        wire.pop("stream_options", None)
        try:
            # The client's own request path (auth, headers, errors, timeouts) without the resource method's
            # parameter transform and response models: `wire` is plain JSON already, and orjson reads the
            # answer several times faster. This is most of what a miss costs inside the gateway.
            response = await self._client.post("/chat/completions", body=wire, cast_to=httpx2.Response)
            completion = orjson.loads(await response.aread())
        except openai.APIError as err:
            raise map_error(err, self.name) from err
        except orjson.JSONDecodeError as err:
            raise ProviderError(502, "provider_error", f"{self.name} sent a body that is not JSON.",
                                provider=self.name, retryable=True) from err
        return result_from_wire(completion, self.name)

    async def stream(
        self, request: ChatRequest, model: str, account: Account | None = None
    ) -> AsyncIterator[StreamEvent]:
        wire = to_wire(request, model, max_tokens_field=self._max_tokens_field)
        wire["stream"] = True
        wire["stream_options"] = {"include_usage": True}
        saw_usage = False
        try:
            # `AsyncStream[object]` hands over each event's JSON as is, without building the SDK's chunk models.
            chunks = await self._client.post(
                "/chat/completions", body=wire, cast_to=ChatCompletion, stream=True, stream_cls=AsyncStream[object],
            )
            async with chunks:
                async for chunk in chunks:
                    if not isinstance(chunk, dict):
                        raise ProviderError(502, "provider_error", f"{self.name} sent a stream event that is not "
                                            "a JSON object.", provider=self.name, retryable=False)
                    for event in events_from_chunk(chunk):
                        saw_usage = saw_usage or isinstance(event, UsageEvent)
                        yield event
        except openai.APIError as err:
            raise map_error(err, self.name) from err
        except httpx2.TransportError as err:
            # A connection dropped mid-stream surfaces from the transport, not as an SDK error.
            raise connection_error(self.name, str(err) or type(err).__name__) from err
        if not saw_usage:
            # Some compatible servers ignore stream_options; the protocol still promises one usage event.
            yield UsageEvent(Usage())

    async def aclose(self) -> None:
        await self._client.close()
