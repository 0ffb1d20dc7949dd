"""Inference bodies within bounds: counts, nesting and size refused with a 400 in each surface's own shape
before any work, and a large body served from a worker thread like any other."""

from __future__ import annotations

import json
from typing import Any

import pytest

from asahi.api.body import LARGE_BODY, BodyLimits, decode
from asahi.errors import BadRequest
from tests.conftest import Running


def nested(depth: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"x": schema}}
    return schema


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"messages": [{"role": "user", "content": "hi"}] * 5000}, "'messages' holds 5000"),
        ({"tools": [{"type": "function", "function": {"name": f"t{i}"}} for i in range(200)]}, "'tools' holds 200"),
        ({"response_format": nested(300)}, "nests deeper than 64"),
        ({"metadata": list(range(300_000))}, "more than 200000 JSON values"),
    ],
)
def test_shapes_past_the_limits_are_refused(body: dict[str, Any], needle: str) -> None:
    with pytest.raises(BadRequest, match=needle):
        decode(json.dumps(body).encode(), BodyLimits())


SURFACES = {
    "/v1/chat/completions": lambda body: body["error"]["code"],
    "/v1/messages": lambda body: body["error"]["type"],
    "/infer": lambda body: body["error"]["code"],
}


@pytest.mark.parametrize("path", list(SURFACES))
async def test_a_tool_schema_nested_300_deep_is_a_400_in_the_surfaces_shape(running: Running, path: str) -> None:
    org = await running.signup()
    tool = {"type": "function", "function": {"name": "deep", "parameters": nested(300)}}
    body = {"model": "asahi-sim-gpt-4o-mini", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
            "tools": [tool]}
    if path == "/infer":
        body = {"prompt": "hi", "metadata": nested(300)}
    response = await running.client.post(path, json=body, headers={"Authorization": f"Bearer {org['api_key']}"})
    assert response.status_code == 400, response.text
    kind = SURFACES[path](response.json())
    assert kind in ("request_too_complex", "invalid_request_error")


async def test_a_large_body_is_served(running: Running) -> None:
    org = await running.signup()
    text = "word " * (LARGE_BODY // 4)
    body = {"model": "asahi-sim-gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
    headers = {"Authorization": f"Bearer {org['api_key']}"}
    first = await running.client.post("/v1/chat/completions", json=body, headers=headers)
    second = await running.client.post("/v1/chat/completions", json=body, headers=headers)
    assert first.status_code == 200 and second.headers["x-asahi-cache"] == "t1"
