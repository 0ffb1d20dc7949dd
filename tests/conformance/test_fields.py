"""Field by field, per surface: what reaches the provider (as sent, or translated), what Asahi keeps, what is
refused with a 400 naming it; and a property test that requests differing in any one field never share a cache
entry, on the endpoints beside chat (chat's own is tests/integration/test_passthrough.py)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conformance import tables
from tests.conformance.conftest import Served

GPT, CLAUDE = "gpt-4o-mini", "claude-haiku-4-5"
Check = Callable[[dict[str, Any]], bool]

BASE: dict[str, tuple[str, dict[str, Any]]] = {
    "chat": ("/v1/chat/completions", {"model": GPT, "messages": [{"role": "user", "content": "hi"}]}),
    "messages": ("/v1/messages", {"model": CLAUDE, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}),
    "responses": ("/v1/responses", {"model": GPT, "input": "hi"}),
    "embeddings": ("/v1/embeddings", {"model": "text-embedding-3-small", "input": "hi"}),
    "completions": ("/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "hi"}),
}
SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}}


def sent(name: str, value: Any) -> Check:
    return lambda body: body.get(name) == value


CASES: list[tuple[str, str, Any, str, Check | None]] = [
    ("chat", "logprobs", True, "passed", sent("logprobs", True)),
    ("chat", "frequency_penalty", 0.5, "passed", sent("frequency_penalty", 0.5)),
    ("chat", "service_tier", "flex", "passed", sent("service_tier", "flex")),
    ("chat", "metadata", {"team": "a"}, "passed", sent("metadata", {"team": "a"})),
    ("chat", "max_tokens", 50, "translated", sent("max_completion_tokens", 50)),
    ("chat", "response_format", {"type": "json_object"}, "passed", sent("response_format", {"type": "json_object"})),
    ("messages", "top_k", 5, "passed", sent("top_k", 5)),
    ("messages", "thinking", {"type": "enabled", "budget_tokens": 2048}, "passed",
     sent("thinking", {"type": "enabled", "budget_tokens": 2048})),
    ("messages", "metadata", {"user_id": "u"}, "passed", sent("metadata", {"user_id": "u"})),
    ("messages", "stop_sequences", ["END"], "passed", sent("stop_sequences", ["END"])),
    ("responses", "instructions", "Be brief.", "translated",
     lambda b: b["messages"][0] == {"role": "system", "content": "Be brief."}),
    ("responses", "max_output_tokens", 64, "translated", sent("max_completion_tokens", 64)),
    ("responses", "text", {"format": {"type": "json_schema", "name": "o", "schema": SCHEMA}}, "translated",
     lambda b: b["response_format"]["json_schema"]["schema"] == SCHEMA),
    ("responses", "reasoning", {"effort": "low"}, "refused", None),  # gpt-4o-mini does not reason
    ("responses", "top_logprobs", 2, "translated", lambda b: b["logprobs"] is True and b["top_logprobs"] == 2),
    ("responses", "service_tier", "flex", "passed", sent("service_tier", "flex")),
    ("responses", "metadata", {"k": "v"}, "kept", lambda b: "metadata" not in b),
    ("responses", "store", False, "kept", lambda b: "store" not in b),
    ("responses", "truncation", "auto", "refused", None),
    ("responses", "background", True, "refused", None),
    ("responses", "tools", [{"type": "web_search"}], "refused", None),
    ("embeddings", "dimensions", 256, "passed", sent("dimensions", 256)),
    ("embeddings", "user", "u-1", "passed", sent("user", "u-1")),
    ("embeddings", "input_type", "search_query", "refused", None),  # Cohere's, not OpenAI's
    ("embeddings", "extra_field", 1, "refused", None),
    ("completions", "suffix", "!", "passed", sent("suffix", "!")),
    ("completions", "echo", True, "passed", sent("echo", True)),
    ("completions", "best_of", 2, "passed", sent("best_of", 2)),
]


@pytest.mark.parametrize(("surface", "name", "value", "how", "check"), CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_each_field_is_passed_translated_kept_or_refused(
    gw: Served, surface: str, name: str, value: Any, how: str, check: Check | None
) -> None:
    path, base = BASE[surface]
    response = gw.post(path, {**base, name: value}, **{"x-asahi-cache": "no-cache"})
    if how == "refused":
        assert response.status_code == 400, response.text
        assert name in response.text or "reasoning" in response.text
        assert not gw.openai.requests and not gw.anthropic.requests
    else:
        assert response.status_code == 200, response.text
        fake = gw.anthropic if surface == "messages" else gw.openai
        assert check is not None and check(fake.last.body), fake.last.body
    tables.field(surface, name, how)


VARIED: list[tuple[str, str, Any]] = [
    ("responses", "instructions", "Be brief."), ("responses", "max_output_tokens", 99),
    ("responses", "temperature", 0.1), ("responses", "top_p", 0.5), ("responses", "service_tier", "flex"),
    ("responses", "text", {"format": {"type": "json_object"}}), ("responses", "top_logprobs", 1),
    ("responses", "parallel_tool_calls", False),
    ("embeddings", "dimensions", 512), ("embeddings", "model", "text-embedding-3-large"),
    ("completions", "max_tokens", 7), ("completions", "suffix", "?"), ("completions", "temperature", 0.3),
    ("completions", "stop", ["\n"]), ("completions", "echo", True),
]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(VARIED), salt=st.integers(0, 10**9))
def test_requests_differing_in_any_one_field_never_share_an_entry(gw: Served, case: tuple[str, str, Any],
                                                                  salt: int) -> None:
    # Hypothesis seeds the global `random` per example, and the gateway (in this process) draws request ids from
    # it: unseeded, each example's ids are fresh, as they are in a real process.
    random.seed()
    surface, name, value = case
    path, base = BASE[surface]
    text = f"probe {salt}"
    plain = {**base, ("prompt" if surface == "completions" else "input"): text}
    first = gw.post(path, plain)
    repeat = gw.post(path, plain)
    varied = gw.post(path, {**plain, name: value})
    assert first.status_code == repeat.status_code == varied.status_code == 200, varied.text
    assert repeat.headers["x-asahi-cache"] == "t1"  # the cache is on: only the field keeps it apart
    assert varied.headers["x-asahi-cache"] != "t1", (name, value)
