"""Reading an inference body within bounds: no request may hold the event loop, whatever its shape.

The body limit (`server.max_body_bytes`) bounds the bytes; these bound the shape: how many messages and tools,
how deep any value nests (a schema nested hundreds deep would exhaust the serialisers further on) and how many
values the whole body holds. Every violation is a 400 naming the limit, checked before any hashing, embedding or
provider call. A large body is decoded and checked in a worker thread, so the loop keeps serving other requests
while it is read (the interpreter hands the lock back every few milliseconds).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson

from asahi.errors import BadRequest

LARGE_BODY = 256 * 1024  # bytes above which decoding and the heavy per-request steps move off the loop


@dataclass(frozen=True, slots=True)
class BodyLimits:
    max_messages: int = 4096
    max_tools: int = 128
    max_depth: int = 64
    max_values: int = 200_000


def _check_shape(body: Any, limits: BodyLimits) -> None:
    """Depth and size of every value, iteratively (no recursion to exhaust), stopping at the first excess."""
    if isinstance(body, dict):
        for field, limit in (("messages", limits.max_messages), ("tools", limits.max_tools)):
            value = body.get(field)
            if isinstance(value, list) and len(value) > limit:
                raise BadRequest(f"'{field}' holds {len(value)} items; at most {limit} are accepted.",
                                 code="request_too_complex", param=field)
    stack: list[tuple[Any, int]] = [(body, 1)]
    seen = 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if seen > limits.max_values:
            raise BadRequest(f"The request holds more than {limits.max_values} JSON values.",
                             code="request_too_complex")
        if depth > limits.max_depth:
            raise BadRequest(f"The request nests deeper than {limits.max_depth} levels.", code="request_too_complex")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def decode(raw: bytes, limits: BodyLimits) -> Any:
    if not raw:
        raise BadRequest("The request body is empty; send a JSON object.", code="invalid_json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("The request body is not valid JSON.", code="invalid_json") from None
    _check_shape(body, limits)
    return body


async def decode_body(raw: bytes, limits: BodyLimits) -> Any:
    if len(raw) > LARGE_BODY:
        return await asyncio.to_thread(decode, raw, limits)
    return decode(raw, limits)
