"""The Anthropic-compatible surface: POST /v1/messages."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from asahi.api.surface import SurfaceFormat, serve_chat
from asahi.providers.anthropic import surface
from asahi.routing.cost import estimate_input_tokens

ANTHROPIC = SurfaceFormat(
    "anthropic", surface.parse_request, surface.render_result, surface.render_error,
    # message_start carries an input estimate: Anthropic's own counts arrive only with the final usage.
    lambda outcome, rid, chat: surface.EventRenderer(rid, outcome.model, estimate_input_tokens(chat)),
)


async def messages(request: Request) -> Response:
    return await serve_chat(request, ANTHROPIC)
