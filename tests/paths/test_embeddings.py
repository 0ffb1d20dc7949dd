"""`POST /v1/embeddings` through to Cohere (its fake server, wire-exact): the vectors in OpenAI's shape, Cohere's
`input_type` passed on, repeats answered from the org's cache, and Cohere's refusals in OpenAI's error shape."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from tests.conftest import Running, SettingsFactory, start
from tests.fakes.cohere_server import FakeCohere

MODEL = "embed-english-v3.0"


@pytest.fixture
def cohere() -> Iterator[FakeCohere]:
    with FakeCohere() as fake:
        yield fake


@pytest.fixture
async def gateway(make_settings: SettingsFactory, cohere: FakeCohere) -> AsyncIterator[tuple[Running, str]]:
    instance, stop = await start(make_settings(COHERE_API_KEY=cohere.api_key, COHERE_BASE_URL=cohere.base_url))
    try:
        key = (await instance.signup())["api_key"]
        cohere.requests.clear()  # the key check at start-up
        yield instance, key
    finally:
        await stop()


async def test_embeddings_go_to_cohere_and_repeats_come_from_the_cache(gateway: tuple[Running, str],
                                                                       cohere: FakeCohere) -> None:
    instance, key = gateway
    body = {"model": MODEL, "input": ["how do I reset my password", "billing address"],
            "input_type": "search_query"}
    first = await instance.client.post("/v1/embeddings", json=body, headers={"Authorization": f"Bearer {key}"})
    assert first.status_code == 200, first.text
    data = first.json()
    assert data["object"] == "list" and data["model"] == MODEL
    assert [d["index"] for d in data["data"]] == [0, 1]
    assert all(len(d["embedding"]) == 1024 for d in data["data"])
    assert data["usage"]["prompt_tokens"] > 0
    [sent] = cohere.requests
    assert sent.body["texts"] == body["input"] and sent.body["input_type"] == "search_query"
    again = await instance.client.post("/v1/embeddings", json=body, headers={"Authorization": f"Bearer {key}"})
    assert again.status_code == 200 and again.json()["data"] == data["data"]
    assert len(cohere.requests) == 1  # the repeat never reached Cohere


async def test_cohere_retries_once_then_its_rate_limit_is_a_429_in_openais_shape(gateway: tuple[Running, str],
                                                                                  cohere: FakeCohere) -> None:
    instance, key = gateway
    headers = {"Authorization": f"Bearer {key}"}
    cohere.fail_next(429)  # one refusal: the client's single retry gets the answer
    assert (await instance.client.post("/v1/embeddings", json={"model": MODEL, "input": "once"},
                                       headers=headers)).status_code == 200
    cohere.fail_next(429, 429)
    response = await instance.client.post("/v1/embeddings", json={"model": MODEL, "input": "twice"},
                                          headers=headers)
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["type"] and "Cohere" in error["message"]
