from __future__ import annotations

import httpx
import openai
import pytest
from sqlalchemy import select

from asahi.store.tables import usage_records
from tests.conftest import Running

SIM = "asahi-sim-gpt-4o-mini"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def chat(content: str = "What is prompt caching?", **extra: object) -> dict[str, object]:
    return {"model": SIM, "messages": [{"role": "user", "content": content}], **extra}


async def ledger_rows(running: Running) -> list[dict[str, object]]:
    built = running.app.state.components
    await built.ledger.flush()
    async with built.engine.connect() as connection:
        rows = await connection.execute(select(usage_records).order_by(usage_records.c.id))
        return [dict(r._mapping) for r in rows]


async def test_miss_then_tier1_hit_with_its_saving(running: Running) -> None:
    org = await running.signup()
    first = await running.client.post("/v1/chat/completions", json=chat(), headers=bearer(org["api_key"]))
    second = await running.client.post("/v1/chat/completions", json=chat(), headers=bearer(org["api_key"]))
    assert first.status_code == second.status_code == 200
    assert first.headers["x-asahi-cache"] == "miss"
    assert second.headers["x-asahi-cache"] == "t1"
    assert float(first.headers["x-asahi-cost-usd"]) > 0
    assert float(second.headers["x-asahi-cost-usd"]) == 0
    assert float(second.headers["x-asahi-saved-usd"]) == pytest.approx(float(first.headers["x-asahi-cost-usd"]))
    for name in ("x-asahi-request-id", "x-asahi-model", "x-asahi-overhead-ms"):
        assert second.headers[name]
    body = second.json()
    assert body["object"] == "chat.completion"
    assert body["id"] == second.headers["x-asahi-request-id"]
    assert body["choices"][0]["message"]["content"] == first.json()["choices"][0]["message"]["content"]
    rows = await ledger_rows(running)
    assert [(r["cache_tier"], r["saving_cause"], r["status"]) for r in rows] == [(0, None, 200), (1, "tier1", 200)]
    assert rows[1]["saved_usd"] == pytest.approx(rows[0]["cost_usd"])
    assert rows[0]["org_id"] == org["org_id"]


async def test_another_org_never_gets_this_orgs_cached_answer(running: Running) -> None:
    a, b = await running.signup(), await running.signup()
    await running.client.post("/v1/chat/completions", json=chat(), headers=bearer(a["api_key"]))
    other = await running.client.post("/v1/chat/completions", json=chat(), headers=bearer(b["api_key"]))
    assert other.headers["x-asahi-cache"] == "miss"


async def test_cache_key_covers_what_shapes_the_answer(running: Running) -> None:
    org = await running.signup()
    await running.client.post("/v1/chat/completions", json=chat(), headers=bearer(org["api_key"]))
    variants = [
        chat(temperature=0.2), chat(seed=7), chat(max_tokens=10), chat(stop=["x"]), chat("What is prompt caching"),
        {"model": SIM, "messages": [{"role": "system", "content": "Be brief."},
                                    {"role": "user", "content": "What is prompt caching?"}]},
        chat(response_format={"type": "json_object"}), {**chat(), "model": "asahi-sim-gpt-4o"},
    ]
    for variant in variants:
        response = await running.client.post("/v1/chat/completions", json=variant, headers=bearer(org["api_key"]))
        assert response.status_code == 200, response.text
        assert response.headers["x-asahi-cache"] == "miss", variant


async def test_cache_opt_outs_and_the_temperature_cap(running: Running) -> None:
    org = await running.signup()
    headers = bearer(org["api_key"])
    await running.client.post("/v1/chat/completions", json=chat(), headers={**headers, "x-asahi-cache": "no-store"})
    again = await running.client.post("/v1/chat/completions", json=chat(), headers=headers)
    assert again.headers["x-asahi-cache"] == "miss"  # nothing was stored
    bypass = await running.client.post("/v1/chat/completions", json=chat(), headers={**headers, "x-asahi-cache": "no-cache"})
    assert bypass.headers["x-asahi-cache"] == "miss"
    hot = chat("tell me a story", temperature=1.2)
    for _ in range(2):
        response = await running.client.post("/v1/chat/completions", json=hot, headers=headers)
        assert response.headers["x-asahi-cache"] == "bypass"
    forced = {**headers, "x-asahi-cache": "force"}
    await running.client.post("/v1/chat/completions", json=hot, headers=forced)
    assert (await running.client.post("/v1/chat/completions", json=hot, headers=forced)).headers["x-asahi-cache"] == "t1"


async def test_length_truncated_answers_are_not_cached(running: Running) -> None:
    org = await running.signup()
    body = chat(max_tokens=3)
    first = await running.client.post("/v1/chat/completions", json=body, headers=bearer(org["api_key"]))
    assert first.json()["choices"][0]["finish_reason"] == "length"
    second = await running.client.post("/v1/chat/completions", json=body, headers=bearer(org["api_key"]))
    assert second.headers["x-asahi-cache"] == "miss"


async def test_stream_is_stored_once_complete_and_replayed(running: Running) -> None:
    org = await running.signup()
    body = chat("stream me", stream=True, stream_options={"include_usage": True})
    first = await running.client.post("/v1/chat/completions", json=body, headers=bearer(org["api_key"]))
    assert first.headers["content-type"].startswith("text/event-stream")
    assert first.headers["x-asahi-cache"] == "miss"
    assert first.text.rstrip().endswith("data: [DONE]")
    second = await running.client.post("/v1/chat/completions", json=body, headers=bearer(org["api_key"]))
    assert second.headers["x-asahi-cache"] == "t1"

    def content(text: str) -> str:
        import orjson

        parts = []
        for line in text.splitlines():
            if line.startswith("data: {"):
                for choice in orjson.loads(line[6:])["choices"]:
                    parts.append(choice["delta"].get("content") or "")
        return "".join(parts)

    assert content(first.text) == content(second.text) != ""
    plain = await running.client.post("/v1/chat/completions", json=chat("stream me"), headers=bearer(org["api_key"]))
    assert plain.headers["x-asahi-cache"] == "t1"
    assert plain.json()["choices"][0]["message"]["content"] == content(first.text)


async def test_bad_requests_get_openai_shaped_4xx(running: Running) -> None:
    org = await running.signup()
    headers = bearer(org["api_key"])
    cases = [
        (b"{oops", 400),
        (b'{"messages": []}', 400),
        (b'{"model": "asahi-sim-gpt-4o-mini", "messages": "hi"}', 400),
        (b'{"model": "asahi-sim-gpt-4o-mini", "messages": [{"role": "wizard", "content": "x"}]}', 400),
        (b'{"model": "asahi-sim-gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "temperature": "hot"}', 400),
        (b'{"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}', 404),
        (b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "x"}]}', 404),  # provider not configured
        (b'{"model": "asahi-sim-gpt-4o-mini", "messages": [{"role": "user", "content": "x"}], "max_tokens": 999999}', 400),
    ]
    for body, status in cases:
        response = await running.client.post("/v1/chat/completions", content=body,
                                             headers={**headers, "content-type": "application/json"})
        assert response.status_code == status, (body, response.text)
        error = response.json()["error"]
        assert error["message"] and "type" in error, body
    unauthorized = await running.client.post("/v1/chat/completions", json=chat())
    assert unauthorized.status_code == 401
    assert unauthorized.json()["error"]["type"] == "authentication_error"
    huge = chat("word " * 700_000)
    too_long = await running.client.post("/v1/chat/completions", json=huge, headers=headers)
    assert too_long.status_code in (400, 413)


async def test_scopes_gate_inference(running: Running) -> None:
    org = await running.signup()
    analytics = (await running.client.post(
        "/governance/api-keys", headers=bearer(org["api_key"]), json={"name": "dash", "scopes": ["analytics"]}
    )).json()
    response = await running.client.post("/v1/chat/completions", json=chat(), headers=bearer(analytics["api_key"]))
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "permission_error"


async def test_models_lists_what_the_org_may_use(running: Running) -> None:
    org = await running.signup()
    await running.client.put(
        "/governance/policy", headers=bearer(org["api_key"]), json={"allowed_models": [SIM], "default_model": SIM}
    )
    listed = await running.client.get("/v1/models", headers=bearer(org["api_key"]))
    assert [m["id"] for m in listed.json()["data"]] == ["asahi/auto", SIM]
    refused = await running.client.post(
        "/v1/chat/completions", json={**chat(), "model": "asahi-sim-gpt-4o"}, headers=bearer(org["api_key"])
    )
    assert refused.status_code == 403 and SIM in refused.json()["error"]["message"]


async def test_the_official_openai_sdk_works_unmodified(running: Running) -> None:
    org = await running.signup()
    client = openai.AsyncOpenAI(
        base_url="http://asahi.test/v1", api_key=org["api_key"],
        http_client=httpx.AsyncClient(transport=httpx.ASGITransport(app=running.app)),
    )
    completion = await client.chat.completions.create(model=SIM, messages=[{"role": "user", "content": "hello"}])
    assert completion.choices[0].message.content and completion.usage and completion.usage.total_tokens > 0
    pieces = []
    stream = await client.chat.completions.create(
        model=SIM, messages=[{"role": "user", "content": "hello there"}], stream=True,
        stream_options={"include_usage": True},
    )
    usage = None
    async for chunk in stream:
        pieces.extend(c.delta.content or "" for c in chunk.choices)
        usage = chunk.usage or usage
    assert "".join(pieces).startswith("[asahi simulator]") and usage is not None
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    called = await client.chat.completions.create(
        model=SIM, messages=[{"role": "user", "content": "weather in Paris?"}], tools=tools,  # type: ignore[arg-type]
        tool_choice="required",
    )
    call = called.choices[0].message.tool_calls
    assert call and call[0].function.name == "get_weather"  # type: ignore[union-attr]
    assert called.choices[0].finish_reason == "tool_calls"
    models = await client.models.list()
    assert SIM in [m.id for m in models.data]
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    await client.close()


async def test_audio_and_file_parts_reach_the_simulator(running: Running) -> None:
    org = await running.signup()
    parts: list[dict[str, object]] = [
        {"type": "text", "text": "What do this recording and this document say?"},
        {"type": "input_audio", "input_audio": {"data": "UklGRiQAAABXQVZFZm10IBAAAAABAAEA", "format": "wav"}},
        {"type": "file", "file": {"filename": "notes.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjQK"}},
    ]
    response = await running.client.post("/v1/chat/completions", headers=bearer(org["api_key"]),
                                         json={"model": SIM, "messages": [{"role": "user", "content": parts}]})
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"].startswith("[asahi simulator]")
