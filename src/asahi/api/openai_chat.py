"""The OpenAI-compatible surface: POST /v1/chat/completions and GET /v1/models."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from asahi.api.deps import components
from asahi.api.surface import SurfaceFormat, authenticate, json_response, serve_chat, surface_error
from asahi.errors import AsahiError
from asahi.providers.openai import surface
from asahi.routing.hints import AUTO_MODEL

OPENAI = SurfaceFormat(
    "openai", surface.parse_request, surface.render_result, surface.render_error,
    lambda outcome, rid, chat: surface.ChunkRenderer(rid, outcome.model, int(time.time()),
                                                  include_usage=chat.include_usage),
)


async def chat_completions(request: Request) -> Response:
    return await serve_chat(request, OPENAI)


async def list_models(request: Request) -> Response:
    try:
        key = await authenticate(request)
    except AsahiError as err:
        return surface_error(err, surface.render_error)
    built = components(request)
    policy = await built.policies.get(key.org_id)
    created = int(built.started_at)
    data = [{"id": AUTO_MODEL, "object": "model", "created": created, "owned_by": "asahi"}] + [
        {"id": m.name, "object": "model", "created": created, "owned_by": m.provider}
        for m in built.router.allowed(policy)
    ]
    return json_response({"object": "list", "data": data})
