"""Asahi's own error shape for the native and management routes: {"error": {"code", "message", ...}}."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import Response

from asahi.errors import AsahiError


def error_body(code: str, message: str, **details: Any) -> bytes:
    return orjson.dumps({"error": {"code": code, "message": message, **details}})


def error_response(err: AsahiError) -> Response:
    return Response(
        error_body(err.code, err.message, **err.details),
        status_code=err.status,
        media_type="application/json",
        headers=err.headers,
    )


async def handle_asahi_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AsahiError)
    return error_response(exc)


_LOCATIONS = ("body", "query", "path", "header")


def _param(error: dict[str, Any]) -> str | None:
    """The field an error is about, as the client named it (`allowed_models.0`), or None for the whole body."""
    parts = [str(part) for part in error.get("loc", ())]
    if parts and parts[0] in _LOCATIONS:
        parts = parts[1:]
    return ".".join(parts) or None


def _describe(error: dict[str, Any]) -> str:
    param = _param(error)
    return f"{param}: {error.get('msg')}" if param else str(error.get("msg"))


async def handle_validation_error(_request: Request, exc: Exception) -> Response:
    """400 naming the fields: `param` is the first one (as OpenAI's errors have it), `errors` lists each, so a
    form can show every message beside its field."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return Response(error_body("invalid_json", "The request body is not valid JSON."), 400,
                        media_type="application/json")
    message = "; ".join(_describe(e) for e in errors[:5])
    fields = [{"param": _param(e), "message": str(e.get("msg"))} for e in errors[:20]]
    return Response(error_body("invalid_request", message, param=fields[0]["param"] if fields else None,
                               errors=fields), 400, media_type="application/json")
