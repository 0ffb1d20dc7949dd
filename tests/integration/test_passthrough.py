"""Nothing a client sends is silently dropped: fields Asahi does not model reach a provider of the same format as
they came, take part in the cache keys, and make a provider of another format incapable (skipped, or the request
refused naming the field); what the provider returns for them comes back, from the cache too."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.anthropic_server import SIGNATURE, THOUGHT
from tests.fakes.server import Fail
from tests.integration.conftest import CLAUDE, GPT, Gateway, sse_data, sse_events

OPENAI_EXTRAS: dict[str, Any] = {
    "store": True, "metadata": {"team": "search"}, "service_tier": "flex", "verbosity": "low",
    "prediction": {"type": "content", "content": "Hello"}, "logit_bias": {"50256": -100},
    "modalities": ["text"], "web_search_options": {"search_context_size": "low"},
}


REASONING_GPT = "gpt-5-mini"


def chat(model: str = GPT, **fields: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "Say hello"}], **fields}


def messages(model: str = CLAUDE, **fields: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 4000, "messages": [{"role": "user", "content": "Say hello"}], **fields}


async def test_openai_fields_reach_openai_as_sent_and_logprobs_come_back(gateway: Gateway) -> None:
    fields = {**OPENAI_EXTRAS, "logprobs": True, "top_logprobs": 2, "frequency_penalty": 0.5,
              "presence_penalty": -0.5, "reasoning_effort": "low"}
    response = await gateway.post("/v1/chat/completions", chat(REASONING_GPT, **fields))
    assert response.status_code == 200, response.text
    sent = gateway.openai.last.body
    assert {k: sent[k] for k in fields} == fields
    answer = response.json()
    assert answer["service_tier"] == "flex" and answer["system_fingerprint"] == "fp_fake"
    assert answer["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
    assert answer["usage"]["completion_tokens_details"]["reasoning_tokens"] == 3
    cached = await gateway.post("/v1/chat/completions", chat(REASONING_GPT, **fields))
    assert cached.headers["x-asahi-cache"] == "t1"
    assert cached.json()["choices"][0]["logprobs"] == answer["choices"][0]["logprobs"]
    (row, _) = await gateway.ledger()
    assert row["reasoning_tokens"] == 3


async def test_streamed_logprobs_come_back_chunk_by_chunk(gateway: Gateway) -> None:
    response = await gateway.post("/v1/chat/completions", chat(stream=True, logprobs=True))
    chunks = [c for c in sse_data(response.text) if c != "[DONE]" and c["choices"]]
    tokens = [t["token"] for c in chunks if c["choices"][0]["logprobs"] for t in c["choices"][0]["logprobs"]["content"]]
    assert "".join(tokens) == "Hello from the fake."
    replayed = await gateway.post("/v1/chat/completions", chat(stream=True, logprobs=True))
    assert replayed.headers["x-asahi-cache"] == "t1" and '"logprobs":{"content":[' in replayed.text


async def test_anthropic_fields_reach_anthropic_and_thinking_comes_back(gateway: Gateway) -> None:
    fields = {"thinking": {"type": "enabled", "budget_tokens": 2048}, "top_k": 5, "service_tier": "auto",
              "metadata": {"user_id": "u-1"}}
    response = await gateway.post("/v1/messages", messages(**fields))
    assert response.status_code == 200, response.text
    sent = gateway.anthropic.last.body
    assert {k: sent[k] for k in fields} == fields
    content = response.json()["content"]
    assert content[0] == {"type": "thinking", "thinking": THOUGHT, "signature": SIGNATURE}
    streamed = await gateway.post("/v1/messages", messages(stream=True, **fields), **{"x-asahi-cache": "no-cache"})
    events = sse_events(streamed.text)
    starts = [data["content_block"]["type"] for name, data in events if name == "content_block_start"]
    deltas = [data["delta"]["type"] for name, data in events if name == "content_block_delta"]
    assert starts == ["thinking", "text"] and "signature_delta" in deltas
    thought = "".join(data["delta"].get("thinking", "") for name, data in events if name == "content_block_delta")
    assert thought == THOUGHT
    # The signed thinking goes back with the next turn, as Anthropic requires.
    follow = messages(messages=[{"role": "user", "content": "Say hello"},
                                {"role": "assistant", "content": content},
                                {"role": "user", "content": "Again"}], **fields)
    assert (await gateway.post("/v1/messages", follow)).status_code == 200
    assert gateway.anthropic.last.body["messages"][1]["content"][0]["signature"] == SIGNATURE


async def test_documents_and_server_tools_pass_through_to_anthropic(gateway: Gateway) -> None:
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "Oslo is cold."}}
    search = {"type": "web_search_20250305", "name": "web_search", "max_uses": 1}
    body = messages(messages=[{"role": "user", "content": [document, {"type": "text", "text": "Summarise"}]}],
                    tools=[search])
    response = await gateway.post("/v1/messages", body)
    assert response.status_code == 200, response.text
    sent = gateway.anthropic.last.body
    assert sent["messages"][0]["content"][0] == document and sent["tools"] == [search]


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/chat/completions", chat(CLAUDE, logprobs=True), "logprobs"),
        ("/v1/chat/completions", chat(CLAUDE, store=True), "store"),
        ("/v1/messages", messages(GPT, top_k=3), "top_k"),
        ("/v1/messages", messages(GPT, messages=[{"role": "user", "content": [
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}}]}]),
         "document content"),
        ("/v1/chat/completions", chat(GPT, reasoning_effort="high"), "reasoning"),  # gpt-4o-mini does not reason
    ],
)
async def test_a_field_the_named_model_cannot_take_is_refused_naming_it(
    gateway: Gateway, path: str, body: dict[str, Any], param: str
) -> None:
    response = await gateway.post(path, body)
    assert response.status_code == 400, response.text
    assert param in response.text and not gateway.openai.requests and not gateway.anthropic.requests


async def test_reasoning_effort_becomes_a_thinking_budget_for_claude(gateway: Gateway) -> None:
    response = await gateway.post("/v1/chat/completions", chat(CLAUDE, reasoning_effort="low", max_tokens=4000))
    assert response.status_code == 200, response.text
    assert gateway.anthropic.last.body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert "thinking" not in response.json()["choices"][0]["message"]  # Chat Completions carries no thinking


async def test_a_fallback_that_cannot_take_the_request_is_skipped(
    make_settings: Any, fake_openai: Any, fake_anthropic: Any, tmp_path: Any
) -> None:
    from tests.conftest import start
    from tests.integration.conftest import write_config

    settings = make_settings(
        OPENAI_API_KEY=fake_openai.api_key, OPENAI_BASE_URL=fake_openai.base_url,
        ANTHROPIC_API_KEY=fake_anthropic.api_key, ANTHROPIC_BASE_URL=fake_anthropic.url,
        ASAHI_CONFIG=str(write_config(tmp_path, timeout=5, fallbacks={GPT: [CLAUDE]})),
    )
    running, stop = await start(settings)
    try:
        key = (await running.signup())["api_key"]
        fake_openai.script(Fail(503, "down"), Fail(503, "down"))
        plain = await running.client.post("/v1/chat/completions", json=chat(), headers={"Authorization": f"Bearer {key}"})
        assert plain.status_code == 200 and plain.headers["x-asahi-model"] == CLAUDE  # the fallback answers
        fake_openai.script(Fail(503, "down"), Fail(503, "down"))
        with_logprobs = await running.client.post("/v1/chat/completions", json=chat(logprobs=True),
                                                  headers={"Authorization": f"Bearer {key}"})
        assert with_logprobs.status_code == 503  # Claude cannot return logprobs: not answered without them
        assert len(fake_anthropic.requests) == 1
    finally:
        await stop()


FIELD_VALUES: list[tuple[str, Any]] = [
    *OPENAI_EXTRAS.items(), ("logprobs", True), ("top_logprobs", 1), ("frequency_penalty", 0.3),
    ("presence_penalty", 0.2), ("seed", 7), ("n", 2), ("top_p", 0.5),
    ("stop", ["END"]), ("max_completion_tokens", 50), ("user", "someone"),
]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(FIELD_VALUES))
async def test_requests_differing_in_any_one_field_never_share_an_entry(gateway: Gateway, field: tuple[str, Any]
                                                                        ) -> None:
    name, value = field
    text = f"cache probe {name}"
    plain = chat(messages=[{"role": "user", "content": text}])
    if name == "top_logprobs":
        plain["logprobs"] = True
    varied = {**plain, name: value}
    await gateway.post("/v1/chat/completions", plain)
    second = await gateway.post("/v1/chat/completions", varied)
    shares = name == "user"  # the end-user id does not shape the answer: one entry for every user of an org
    assert (second.headers.get("x-asahi-cache") == "t1") == shares, (name, second.text)
