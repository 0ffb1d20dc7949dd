"""The Anthropic-compatible surface: POST /v1/messages."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response

from asahi.api.surface import (
    authenticate,
    cache_directive,
    components,
    error_response,
    internal_error,
    json_response,
    read_json,
    request_id,
    sse_response,
)
from asahi.call import Call, Outcome, RoutingHints, mode_for
from asahi.errors import AsahiError
from asahi.providers.anthropic import wire
from asahi.routing.cost import estimate_input_tokens


async def messages(request: Request) -> Response:
    rid = request_id(request)
    try:
        key = await authenticate(request)
        chat = wire.parse_request(await read_json(request))
        call = Call(rid, "anthropic", key, chat, cache=cache_directive(request),
                    routing=RoutingHints(mode_for(chat.model)))
        outcome = await components(request).pipeline.run(call)
    except AsahiError as err:
        return error_response(err, wire.render_error)
    except Exception:  # noqa: BLE001  # a bug still answers in this surface's own error shape
        return error_response(internal_error(), wire.render_error)
    if outcome.result is not None:
        return json_response(wire.render_result(outcome.result, rid), headers=outcome.headers())
    return sse_response(_events(outcome, rid, estimate_input_tokens(chat)), outcome)


async def _events(outcome: Outcome, rid: str, input_tokens: int) -> AsyncIterator[bytes]:
    assert outcome.events is not None
    renderer = wire.EventRenderer(rid, outcome.model, input_tokens)
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
    yield renderer.finish()
