"""The OpenAI-compatible surface: POST /v1/chat/completions, GET /v1/models and GET /v1/models/{id}."""

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


async def _models(request: Request) -> list[dict[str, object]]:
    """Every model this caller's org may use: `asahi/auto`, the chat models, then the embedding models."""
    key = await authenticate(request)
    built = components(request)
    policy = await built.policies.get(key.org_id)
    created = int(built.started_at)
    return [{"id": AUTO_MODEL, "object": "model", "created": created, "owned_by": "asahi"}] + [
        {"id": m.name, "object": "model", "created": created, "owned_by": m.provider}
        for m in [*built.router.allowed(policy), *(e.info for e in built.paths.embedding_models())]
        if policy.allows(m.name)
    ]


async def list_models(request: Request) -> Response:
    try:
        data = await _models(request)
    except AsahiError as err:
        return surface_error(err, surface.render_error)
    return json_response({"object": "list", "data": data})


async def retrieve_model(request: Request) -> Response:
    """`GET /v1/models/{id}`; ids may hold a slash (`asahi/auto`)."""
    wanted = request.path_params["model_id"]
    try:
        found = next((m for m in await _models(request) if m["id"] == wanted), None)
        if found is None:
            raise AsahiError(404, "model_not_found", f"The model {wanted!r} does not exist or is not allowed for "
                             "this organisation.", details={"param": "model"})
    except AsahiError as err:
        return surface_error(err, surface.render_error)
    return json_response(found)
