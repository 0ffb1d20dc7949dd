"""What every HTTP provider adapter shares: one pooled client, the call, the stream loop and failure mapping.

A subclass supplies its provider's wire format only: the path, the auth headers, the request body
(`to_wire`), how an answer body and stream events read, and where its error bodies keep their message. Everything
else lives here once, so OpenAI, Anthropic and any OpenAI-compatible server fail, time out and stream alike.

The client is aiohttp, spoken to directly: the official SDKs' request path cost ~0.5 ms of CPU per call (their
option handling, retries and response models), half of what the gateway spends on a miss (`bench/sdk_overhead.py`).
Bodies go out as orjson bytes and come back as plain JSON; stream events are parsed as they arrive, without
per-chunk model objects. Retries are not done here: the resilience layer owns them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, ClassVar, Protocol

import aiohttp
import orjson

from asahi.domain import ChatRequest, ChatResult, StreamEvent
from asahi.errors import ProviderError
from asahi.providers.base import Account
from asahi.providers.sse import ServerEvent, server_events
from asahi.providers.upstream_errors import (
    InvalidResponse,
    connection_error,
    invalid_response,
    status_error,
    timeout_error,
)

# What reading a malformed body can raise: a missing key, a wrong type, a value out of range.
_MALFORMED = (InvalidResponse, orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError)

JSON_HEADERS = {"content-type": "application/json", "accept": "application/json"}


class EventTranslator(Protocol):
    """One stream's events in the provider's format, turned into Asahi's, with the state a stream needs."""

    done: bool  # the protocol's last event has arrived

    def translate(self, data: dict[str, Any], event: str | None) -> list[StreamEvent]:
        """One event's JSON and its SSE event name; raise `InvalidResponse` for one that breaks the protocol."""
        ...

    def finish(self) -> list[StreamEvent]:
        """Events owed once the stream ended (e.g. a usage event a server never sent)."""
        ...


class HttpProvider:
    """A provider reached over HTTP with JSON bodies and server-sent event streams."""

    path: ClassVar[str]

    def __init__(
        self, name: str, base_url: str, api_key: str | None, *, timeout: float = 120.0, pool_size: int = 100
    ) -> None:
        self.name = name
        self._base = base_url.rstrip("/")
        self._url = self._base + self.path
        self._api_key = api_key
        self._timeout = timeout
        self._pool_size = pool_size
        self._headers = {**JSON_HEADERS, **self.auth_headers(api_key)}
        self._session: aiohttp.ClientSession | None = None

    # --- each provider's wire format ---
    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        raise NotImplementedError

    def to_wire(self, request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
        raise NotImplementedError

    def result_from_wire(self, body: dict[str, Any]) -> ChatResult:
        """Raise `InvalidResponse` for a body that is not an answer."""
        raise NotImplementedError

    def translator(self) -> EventTranslator:
        raise NotImplementedError

    def error_message(self, body: Any) -> str | None:
        """The message inside one of this provider's error bodies, if it has one."""
        raise NotImplementedError

    def stream_error(self, data: dict[str, Any], event: str | None) -> int | None:
        """The HTTP status an in-stream error event stands for, or None when the event is not an error."""
        raise NotImplementedError

    # --- shared ---
    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # One pool per provider; keep-alive connections are what makes a miss cheap.
            connector = aiohttp.TCPConnector(limit=self._pool_size, keepalive_timeout=30, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(
                connector=connector, json_serialize=lambda o: orjson.dumps(o).decode(),
                skip_auto_headers=("User-Agent",), headers={"user-agent": "asahi"},
            )
        return self._session

    def _request_headers(self, account: Account | None) -> dict[str, str]:
        if account is None or account.api_key is None:
            return self._headers
        return {**JSON_HEADERS, **self.auth_headers(account.api_key)}

    async def _post(self, url: str, body: bytes, account: Account | None) -> bytes:
        """One JSON call: the pooled session, the total timeout, and the failure mapping every call shares."""
        timeout = aiohttp.ClientTimeout(total=self._timeout)
        try:
            async with self._client().post(
                url, data=body, headers=self._request_headers(account), timeout=timeout
            ) as response:
                raw = await response.read()
                if response.status >= 400:
                    raise self._status_error(response.status, raw, response.headers)
                return raw
        except TimeoutError:
            raise timeout_error(self.name) from None
        except aiohttp.ClientError as err:
            raise connection_error(self.name, str(err) or type(err).__name__) from err

    async def complete(self, request: ChatRequest, model: str, account: Account | None = None) -> ChatResult:
        raw = await self._post(self._url, orjson.dumps(self.to_wire(request, model, stream=False)), account)
        try:
            answer = orjson.loads(raw)
            if not isinstance(answer, dict):
                raise InvalidResponse("the body is not a JSON object")
            return self.result_from_wire(answer)
        except _MALFORMED as err:
            raise invalid_response(self.name, f"answer body: {type(err).__name__}: {err}") from err

    async def stream(
        self, request: ChatRequest, model: str, account: Account | None = None
    ) -> AsyncIterator[StreamEvent]:
        body = orjson.dumps(self.to_wire(request, model, stream=True))
        # No total: a long generation is healthy. A silent connection is cut per read; the pipeline's idle
        # timeout between events bounds the rest.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._timeout, sock_read=self._timeout)
        translator = self.translator()
        try:
            async with self._client().post(
                self._url, data=body, headers=self._request_headers(account), timeout=timeout
            ) as response:
                if response.status >= 400:
                    raise self._status_error(response.status, await response.read(), response.headers)
                async for event in server_events(response.content):
                    for translated in self._translate(translator, event):
                        yield translated
                    if translator.done:
                        break
        except TimeoutError:
            raise timeout_error(self.name) from None
        except aiohttp.ClientError as err:
            # A connection dropped mid-stream surfaces here, from the body read.
            raise connection_error(self.name, str(err) or type(err).__name__) from err
        if not translator.done:
            raise connection_error(self.name, "the stream ended before its last event")
        for owed in translator.finish():
            yield owed

    async def call_json(self, path: str, body: dict[str, Any], account: Account | None = None) -> dict[str, Any]:
        """POST `body` to another endpoint of this provider's API (embeddings, completions, token counts) and
        read its JSON answer: the same pool, timeout and failure mapping as a chat call."""
        raw = await self._post(self._base + path, orjson.dumps(body), account)
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            raise invalid_response(self.name, f"answer body: {err}") from err
        if not isinstance(answer, dict):
            raise invalid_response(self.name, "answer body: not a JSON object")
        return answer

    async def call_events(
        self, path: str, body: dict[str, Any], account: Account | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """POST `body` to another streaming endpoint and yield each event's JSON until `[DONE]`."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._timeout, sock_read=self._timeout)
        try:
            async with self._client().post(
                self._base + path, data=orjson.dumps(body), headers=self._request_headers(account), timeout=timeout
            ) as response:
                if response.status >= 400:
                    raise self._status_error(response.status, await response.read(), response.headers)
                async for event in server_events(response.content):
                    if event.data == b"[DONE]":
                        return
                    try:
                        data = orjson.loads(event.data)
                    except orjson.JSONDecodeError as err:
                        raise invalid_response(self.name, f"stream event: {err}") from err
                    if not isinstance(data, dict):
                        raise invalid_response(self.name, "stream event: not a JSON object")
                    status = self.stream_error(data, event.event)
                    if status is not None:
                        raise status_error(self.name, status, self.error_message(data) or "error event", {})
                    yield data
        except TimeoutError:
            raise timeout_error(self.name) from None
        except aiohttp.ClientError as err:
            raise connection_error(self.name, str(err) or type(err).__name__) from err
        raise connection_error(self.name, "the stream ended before its last event")

    def _translate(self, translator: EventTranslator, event: ServerEvent) -> list[StreamEvent]:
        if translator.done or event.data == b"[DONE]":
            translator.done = True
            return []
        try:
            data = orjson.loads(event.data)
            if not isinstance(data, dict):
                raise InvalidResponse("a stream event is not a JSON object")
            status = self.stream_error(data, event.event)
            if status is not None:
                raise status_error(self.name, status, self.error_message(data) or "error event", {})
            return translator.translate(data, event.event)
        except _MALFORMED as err:
            raise invalid_response(self.name, f"stream event: {type(err).__name__}: {err}") from err

    def _status_error(self, status: int, raw: bytes, headers: Any) -> ProviderError:
        try:
            message = self.error_message(orjson.loads(raw))
        except orjson.JSONDecodeError:
            message = None
        return status_error(self.name, status, message or raw[:200].decode(errors="replace"), headers)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            # Lets the connector's transports finish closing before the loop goes (aiohttp's documented advice).
            await asyncio.sleep(0)
