"""`POST /v1/responses`, OpenAI's Responses API: parse, run on the chat pipeline, render its object or its
event stream; errors in OpenAI's shape."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response

from asahi.api.deps import components
from asahi.api.surface import (
    authenticate,
    cache_directive,
    internal_error,
    json_response,
    read_json,
    request_id,
    sse_response,
    surface_error,
)
from asahi.errors import AsahiError
from asahi.paths.responses import response_id
from asahi.providers.openai.responses import ResponseEventRenderer, output_items, parse_request, render_result
from asahi.providers.openai.surface import render_error


async def responses(request: Request) -> Response:
    rid = request_id(request)
    path = components(request).paths.responses
    try:
        key = await authenticate(request)
        body, _ = await read_json(request)
        chat, options = parse_request(body)
        earlier = await path.history(key, options)
        outcome = await path.run(rid, key, chat, options, earlier, cache_directive(request))
    except AsahiError as err:
        return surface_error(err, render_error)
    except Exception:  # noqa: BLE001  # a bug still answers in OpenAI's error shape
        return surface_error(internal_error(), render_error)
    resp_id = response_id(rid)
    if outcome.result is not None:
        await path.remember(key, resp_id, options, earlier, output_items(outcome.result, resp_id))
        return json_response(render_result(outcome.result, resp_id, options), headers=outcome.headers())
    renderer = ResponseEventRenderer(resp_id, outcome.model, options)

    async def events() -> AsyncIterator[bytes]:
        assert outcome.events is not None
        try:
            async for event in outcome.events:
                chunk = renderer.render(event)
                if chunk:
                    yield chunk
        except AsahiError as err:
            yield renderer.error(err)
            return
        except Exception:  # noqa: BLE001  # the client still gets a terminal error event
            yield renderer.error(internal_error())
            return
        yield renderer.end()
        await path.remember(key, resp_id, options, earlier, renderer.output)

    return sse_response(events(), outcome)
