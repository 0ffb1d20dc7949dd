"""The legacy `POST /v1/completions`, passed through to OpenAI-format providers with tier 1 in front."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from asahi.api.deps import components
from asahi.api.surface import (
    authenticate,
    cache_directive,
    internal_error,
    json_response,
    read_json,
    request_id,
    surface_error,
)
from asahi.errors import AsahiError
from asahi.providers.fields import bad, mapping, opt_bool
from asahi.providers.openai.surface import render_error


def _check(raw: Any) -> dict[str, Any]:
    body = mapping(raw, "body")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise bad("model", "a model name is required.")
    if "prompt" not in body:
        raise bad("prompt", "a prompt is required.")
    opt_bool(body.get("stream"), "stream")
    return body


async def completions(request: Request) -> Response:
    rid = request_id(request)
    try:
        key = await authenticate(request)
        raw, _ = await read_json(request)
        body = _check(raw)
        directive = cache_directive(request)
        done = await components(request).paths.completions.run(rid, key, body, read=directive.read,
                                                               write=directive.write)
    except AsahiError as err:
        return surface_error(err, render_error)
    except Exception:  # noqa: BLE001  # a bug still answers in OpenAI's error shape
        return surface_error(internal_error(), render_error)
    headers = done.outcome.headers()
    if done.body is not None:
        return json_response({**done.body, "id": done.body.get("id") or rid}, headers=headers)
    assert done.chunks is not None
    if done.outcome.cache != "t1":  # priced when the stream ends: the figures are in the ledger
        headers["x-asahi-cost-usd"] = headers["x-asahi-saved-usd"] = "deferred"

    async def events(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
        try:
            async for chunk in chunks:
                yield b"data: " + orjson.dumps(chunk) + b"\n\n"
        except AsahiError as err:
            yield b"data: " + orjson.dumps(render_error(err)) + b"\n\n"
            return
        yield b"data: [DONE]\n\n"

    return StreamingResponse(events(done.chunks), media_type="text/event-stream",
                             headers={**headers, "cache-control": "no-cache"})
