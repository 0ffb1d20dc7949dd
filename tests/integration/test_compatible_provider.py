"""docs/adding-a-provider.md, step by step: an OpenAI-compatible server added by configuration alone."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import SettingsFactory, start
from tests.fakes.openai_server import FakeOpenAI
from tests.integration.conftest import ledger_rows


async def test_a_compatible_server_is_a_provider_with_its_own_priced_models(
    make_settings: SettingsFactory, fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    overlay = tmp_path / "asahi.yaml"
    overlay.write_text(yaml.safe_dump({"compatible_providers": [{
        "name": "local-llm", "base_url": fake_openai.base_url, "api_key_env": "LOCAL_LLM_KEY",
        "models": {"llama3.1:8b": {"input": 0.05, "output": 0.1, "context_window": 131072,
                                   "capabilities": ["tools"], "quality": 2}},
    }]}))
    running, stop = await start(make_settings(ASAHI_CONFIG=str(overlay), LOCAL_LLM_KEY=fake_openai.api_key))
    try:
        org = await running.signup()
        headers = {"Authorization": f"Bearer {org['api_key']}"}
        models = (await running.client.get("/v1/models", headers=headers)).json()["data"]
        assert {"id": "llama3.1:8b", "owned_by": "local-llm"}.items() <= next(
            m for m in models if m["id"] == "llama3.1:8b").items()
        body = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 20}
        response = await running.client.post("/v1/chat/completions", json=body, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["x-asahi-model"] == "llama3.1:8b"
        sent = fake_openai.last
        assert sent.headers["authorization"] == f"Bearer {fake_openai.api_key}"
        assert sent.body["max_tokens"] == 20 and "max_completion_tokens" not in sent.body
        (row,) = await ledger_rows(running)
        assert row["provider"] == "local-llm" and row["cost_usd"] == (12 * 0.05 + 5 * 0.1) / 1e6
    finally:
        await stop()
