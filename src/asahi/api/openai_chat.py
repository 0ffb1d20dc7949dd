"""The OpenAI-compatible surface: POST /v1/chat/completions and GET /v1/models."""

from __future__ import annotations

import time
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
from asahi.call import AUTO_MODEL, Call, Outcome, RoutingHints, mode_for
from asahi.errors import AsahiError
from asahi.providers.openai import wire


async def chat_completions(request: Request) -> Response:
    rid = request_id(request)
    try:
        key = await authenticate(request)
        chat = wire.parse_request(await read_json(request))
        call = Call(rid, "openai", key, chat, cache=cache_directive(request),
                    routing=RoutingHints(mode_for(chat.model)))
        outcome = await components(request).pipeline.run(call)
    except AsahiError as err:
        return error_response(err, wire.render_error)
    except Exception:  # noqa: BLE001  # a bug still answers in this surface's own error shape
        return error_response(internal_error(), wire.render_error)
    if outcome.result is not None:
        return json_response(wire.render_result(outcome.result, rid), headers=outcome.headers())
    return sse_response(_chunks(outcome, rid, chat.include_usage), outcome)


async def _chunks(outcome: Outcome, rid: str, include_usage: bool) -> AsyncIterator[bytes]:
    assert outcome.events is not None
    renderer = wire.ChunkRenderer(rid, outcome.model, int(time.time()), include_usage=include_usage)
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
    yield renderer.done()


async def list_models(request: Request) -> Response:
    try:
        key = await authenticate(request)
    except AsahiError as err:
        return error_response(err, wire.render_error)
    built = components(request)
    policy = await built.pipeline.policies.get(key.org_id)
    created = int(built.started_at)
    data = [{"id": AUTO_MODEL, "object": "model", "created": created, "owned_by": "asahi"}] + [
        {"id": m.name, "object": "model", "created": created, "owned_by": m.provider}
        for m in built.pipeline.chooser.available(policy)
    ]
    return json_response({"object": "list", "data": data})
