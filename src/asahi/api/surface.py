"""What the inference surfaces share: reading the body, the caller's key, cache directives, responses.

The inference routes are plain Starlette endpoints rather than FastAPI ones: FastAPI's per-request machinery is
the throughput ceiling on this path, and each surface validates its own wire format anyway.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from asahi.api.body import LARGE_BODY, BodyLimits, decode_body
from asahi.api.deps import components
from asahi.call import CacheDirective, Call, Outcome
from asahi.domain import ChatRequest, ChatResult, StreamEvent
from asahi.errors import AsahiError, BadRequest
from asahi.governance.auth import presented_key, require_scope
from asahi.governance.keys import KeyRecord
from asahi.routing.hints import RoutingHints

JSON = "application/json"
log = logging.getLogger(__name__)


def request_id(request: Request) -> str:
    return str(request.scope["state"]["request_id"])


async def authenticate(request: Request) -> KeyRecord:
    key = await components(request).auth.authenticate(presented_key(request.headers))
    require_scope(key, "infer")
    return key


def client_address(request: Request) -> str | None:
    return request.client.host[:64] if request.client else None


def limits(request: Request) -> BodyLimits:
    server = components(request).settings.config.server
    return BodyLimits(server.max_messages, server.max_tools, server.max_json_depth, server.max_json_values)


async def read_json(request: Request) -> tuple[Any, bool]:
    """The decoded body within the configured bounds, and whether it is large (its heavy steps run off the loop)."""
    raw = await request.body()
    return await decode_body(raw, limits(request)), len(raw) > LARGE_BODY


def cache_directive(request: Request, body_flags: dict[str, Any] | None = None) -> CacheDirective:
    """`x-asahi-cache: no-cache | no-store | force` (comma-separated), or the same as `/infer` body flags."""
    values = {v.strip().lower() for v in request.headers.get("x-asahi-cache", "").split(",") if v.strip()}
    flags = body_flags or {}
    return CacheDirective(
        read="no-cache" not in values and flags.get("read", True) is not False,
        write="no-store" not in values and flags.get("write", True) is not False,
        allow_high_temperature="force" in values or flags.get("force") is True,
    )


_SWITCH = {"on": True, "true": True, "1": True, "off": False, "false": False, "0": False}


def routing_hints(request: Request) -> RoutingHints:
    """`x-asahi-cascade: on | off` on the compatible surfaces (their bodies belong to the provider's format)."""
    value = request.headers.get("x-asahi-cascade")
    if value is None:
        return RoutingHints()
    if value.strip().lower() not in _SWITCH:
        raise BadRequest("x-asahi-cascade must be on or off.", param="x-asahi-cascade")
    return RoutingHints(cascade=_SWITCH[value.strip().lower()])


def internal_error() -> AsahiError:
    """An unexpected failure, logged with its traceback (never with the request body)."""
    log.exception("unhandled error on an inference surface")
    return AsahiError(500, "internal_error", "Internal error.")


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status, headers=headers, media_type=JSON)


def surface_error(err: AsahiError, render: Callable[[AsahiError], Any]) -> Response:
    return json_response(render(err), err.status, err.headers)


def sse_response(chunks: AsyncIterator[bytes], outcome: Outcome) -> StreamingResponse:
    headers = {**outcome.headers(), "cache-control": "no-cache", "x-accel-buffering": "no"}
    return StreamingResponse(chunks, media_type="text/event-stream", headers=headers)


class StreamRenderer(Protocol):
    def render(self, event: StreamEvent) -> bytes: ...

    def error(self, err: AsahiError) -> bytes: ...

    def end(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class SurfaceFormat:
    """A provider-compatible surface: how its requests parse and its answers, errors and streams render."""

    name: Literal["openai", "anthropic"]
    parse: Callable[[Any], ChatRequest]
    render_result: Callable[[ChatResult, str], dict[str, Any]]
    render_error: Callable[[AsahiError], dict[str, Any]]
    stream_renderer: Callable[[Outcome, str, ChatRequest], StreamRenderer]


async def serve_chat(request: Request, surface: SurfaceFormat) -> Response:
    """The whole of a compatible surface's chat endpoint: parse, run the pipeline, render, in its own shapes."""
    rid = request_id(request)
    try:
        key = await authenticate(request)
        body, large = await read_json(request)
        chat = await asyncio.to_thread(surface.parse, body) if large else surface.parse(body)
        call = Call(rid, surface.name, key, chat, cache=cache_directive(request), routing=routing_hints(request),
                    large=large, client=client_address(request))
        outcome = await components(request).pipeline.run(call)
    except AsahiError as err:
        return surface_error(err, surface.render_error)
    except Exception:  # noqa: BLE001  # a bug still answers in this surface's own error shape
        return surface_error(internal_error(), surface.render_error)
    if outcome.result is not None:
        return json_response(surface.render_result(outcome.result, rid), headers=outcome.headers())
    return sse_response(_sse(outcome, surface.stream_renderer(outcome, rid, chat)), outcome)


async def _sse(outcome: Outcome, renderer: StreamRenderer) -> AsyncIterator[bytes]:
    assert outcome.events is not None
    try:
        async for event in outcome.events:
            chunk = renderer.render(event)
            if chunk:
                yield chunk
    except AsahiError as err:
        yield renderer.error(err)
        return
    except Exception:  # noqa: BLE001  # the client still gets a terminal error event, not a cut connection
        yield renderer.error(internal_error())
        return
    yield renderer.end()
