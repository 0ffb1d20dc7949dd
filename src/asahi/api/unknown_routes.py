"""Unknown routes and methods, answered in the shape of the surface their path belongs to.

A client that calls an endpoint Asahi does not serve must report "endpoint not found", not "model not found": the
OpenAI and Anthropic SDKs (and the frameworks on them) read the error body in their own format and misread
anything else. So `/v1/messages…` answers in Anthropic's error shape, any other `/v1/…` in OpenAI's, and the rest
in Asahi's own, each naming the method and the route.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from asahi.api.errors import error_response
from asahi.api.surface import json_response
from asahi.errors import AsahiError
from asahi.providers.anthropic import surface as anthropic
from asahi.providers.openai import surface as openai


def renderer_for(path: str) -> Callable[[AsahiError], dict[str, Any]] | None:
    """The error renderer of the surface `path` belongs to; None for Asahi's own routes."""
    if path == "/v1/messages" or path.startswith("/v1/messages/"):
        return anthropic.render_error
    if path.startswith("/v1/"):
        return openai.render_error
    return None


def route_error(method: str, path: str, status: int, allow: str | None, detail: str | None) -> AsahiError:
    if status == 405:
        allowed = f"; use {allow}" if allow else ""
        return AsahiError(405, "method_not_allowed", f"Method {method} is not allowed on {path}{allowed}.")
    if status == 404 and detail in (None, "Not Found"):
        return AsahiError(404, "unknown_route", f"Unknown route: {method} {path}. This endpoint does not exist "
                                                "on this server (see /docs for the ones that do).")
    return AsahiError(status, "http_error", detail or "HTTP error.")


async def handle_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    err = route_error(request.method, request.url.path, exc.status_code, headers.get("Allow"), exc.detail)
    err.headers = headers  # Allow, on a 405
    render = renderer_for(request.url.path)
    if render is None:
        return error_response(err)
    return json_response(render(err), err.status, err.headers)
