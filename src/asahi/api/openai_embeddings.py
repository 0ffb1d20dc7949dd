"""`POST /v1/embeddings` in OpenAI's shape: parse, run the embeddings path, render; errors in OpenAI's shape."""

from __future__ import annotations

import base64
from typing import Any, Literal

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
    surface_error,
)
from asahi.errors import AsahiError
from asahi.paths.embeddings import Embedded, EmbeddingRequest
from asahi.providers.fields import array, bad, mapping, opt_int, opt_string, string
from asahi.providers.openai.surface import render_error

MAX_INPUTS = 2048  # OpenAI's own limit per request
_FIELDS = frozenset({"model", "input", "dimensions", "encoding_format", "user", "input_type"})


def parse(body: Any) -> EmbeddingRequest:
    body = mapping(body, "body")
    unknown = sorted(set(body) - _FIELDS)
    if unknown:  # refused, never dropped: an embedding has no field Asahi could ignore safely
        raise bad(unknown[0], "is not a field of the embeddings API.")
    model = string(body.get("model"), "model")
    raw = body.get("input")
    if isinstance(raw, str) or (isinstance(raw, list) and raw and all(isinstance(t, int) for t in raw)):
        inputs: list[str | list[int]] = [raw]
    else:
        items = array(raw, "input")
        inputs = [_input(item, f"input[{i}]") for i, item in enumerate(items)]
    if not inputs or len(inputs) > MAX_INPUTS:
        raise bad("input", f"between 1 and {MAX_INPUTS} inputs.")
    encoding: Literal["float", "base64"] = "base64" if body.get("encoding_format") == "base64" else "float"
    if body.get("encoding_format") not in (None, "float", "base64"):
        raise bad("encoding_format", "must be float or base64.")
    return EmbeddingRequest(
        model=model, inputs=inputs, dimensions=opt_int(body.get("dimensions"), "dimensions", 1),
        encoding_format=encoding, user=opt_string(body.get("user"), "user"),
        input_type=opt_string(body.get("input_type"), "input_type"),
    )


def _input(item: Any, param: str) -> str | list[int]:
    if isinstance(item, str):
        if not item:
            raise bad(param, "an input cannot be empty.")
        return item
    tokens = array(item, param)
    if not tokens or not all(isinstance(t, int) and not isinstance(t, bool) for t in tokens):
        raise bad(param, "expected a string or a non-empty array of token ids.")
    return tokens


def render(embedded: Embedded, request: EmbeddingRequest) -> dict[str, Any]:
    data = []
    for index, vector in enumerate(embedded.vectors):
        value: Any = (base64.b64encode(vector.astype("<f4").tobytes()).decode()
                      if request.encoding_format == "base64" else vector.tolist())
        data.append({"object": "embedding", "index": index, "embedding": value})
    usage = {"prompt_tokens": embedded.input_tokens, "total_tokens": embedded.input_tokens}
    return {"object": "list", "data": data, "model": embedded.outcome.model, "usage": usage}


async def embeddings(request: Request) -> Response:
    rid = request_id(request)
    try:
        key = await authenticate(request)
        body, _ = await read_json(request)
        parsed = parse(body)
        directive = cache_directive(request)
        embedded = await components(request).paths.embeddings.run(rid, key, parsed, read=directive.read,
                                                            write=directive.write)
    except AsahiError as err:
        return surface_error(err, render_error)
    except Exception:  # noqa: BLE001  # a bug still answers in OpenAI's error shape
        return surface_error(internal_error(), render_error)
    return json_response(render(embedded, parsed), headers=embedded.outcome.headers())
