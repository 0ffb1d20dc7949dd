"""`POST /v1/messages/count_tokens` in Anthropic's shape; `x-asahi-token-count` says whose count it is."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from asahi.api.deps import components
from asahi.api.surface import authenticate, internal_error, json_response, read_json, surface_error
from asahi.errors import AsahiError
from asahi.providers.anthropic.surface import render_error
from asahi.providers.fields import mapping


async def count_tokens(request: Request) -> Response:
    try:
        key = await authenticate(request)
        body, _ = await read_json(request)
        counted = await components(request).paths.count_tokens.run(key, mapping(body, "body"))
    except AsahiError as err:
        return surface_error(err, render_error)
    except Exception:  # noqa: BLE001  # a bug still answers in Anthropic's error shape
        return surface_error(internal_error(), render_error)
    return json_response({"input_tokens": counted.input_tokens},
                         headers={"x-asahi-token-count": counted.how, "x-asahi-model": counted.model})
