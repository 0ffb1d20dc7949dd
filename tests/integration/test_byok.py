"""Each org's own provider keys (BYOK): its requests reach the provider with its credential, every other org's
with the operator's; the credential is write-only and sealed at rest, and no secret (its own or an Asahi key) is
in any table but sealed."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from asahi.store.tables import metadata, provider_credentials
from tests.integration.conftest import CLAUDE, GPT, Gateway

ORG_OPENAI_KEY = "sk-org-own-openai-0123456789"
ORG_ANTHROPIC_KEY = "sk-ant-org-own-9876543210"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def put_key(gateway: Gateway, admin: str, provider: str, secret: str) -> Any:
    return await gateway.running.client.put(f"/governance/providers/{provider}", headers=bearer(admin),
                                            json={"api_key": secret})


async def test_an_orgs_requests_go_out_with_its_own_key_and_others_with_the_operators(gateway: Gateway) -> None:
    gateway.openai.other_keys.add(ORG_OPENAI_KEY)
    gateway.anthropic.other_keys.add(ORG_ANTHROPIC_KEY)
    stored = await put_key(gateway, gateway.key, "openai", ORG_OPENAI_KEY)
    assert stored.status_code == 200, stored.text
    assert stored.json()["api_key"] == "…" + ORG_OPENAI_KEY[-4:]
    assert (await put_key(gateway, gateway.key, "anthropic", ORG_ANTHROPIC_KEY)).status_code == 200
    other = await gateway.running.signup()
    body = {"model": GPT, "messages": [{"role": "user", "content": "whose key?"}]}
    assert (await gateway.post("/v1/chat/completions", body)).status_code == 200
    assert gateway.openai.last.headers["authorization"] == f"Bearer {ORG_OPENAI_KEY}"
    response = await gateway.running.client.post("/v1/chat/completions", json=body, headers=bearer(other["api_key"]))
    assert response.status_code == 200
    assert gateway.openai.last.headers["authorization"] == f"Bearer {gateway.openai.api_key}"
    claude = {"model": CLAUDE, "max_tokens": 32, "messages": [{"role": "user", "content": "and here?"}]}
    assert (await gateway.post("/v1/messages", claude)).status_code == 200
    assert gateway.anthropic.last.headers["x-api-key"] == ORG_ANTHROPIC_KEY
    streamed = await gateway.post("/v1/chat/completions", {**body, "stream": True,
                                                           "messages": [{"role": "user", "content": "streamed"}]})
    assert streamed.status_code == 200
    assert gateway.openai.last.headers["authorization"] == f"Bearer {ORG_OPENAI_KEY}"


async def test_credentials_are_write_only_sealed_and_never_elsewhere(gateway: Gateway) -> None:
    await put_key(gateway, gateway.key, "openai", ORG_OPENAI_KEY)
    listed = (await gateway.running.client.get("/governance/providers", headers=gateway.headers)).json()["data"]
    assert [(c["provider"], c["api_key"]) for c in listed] == [("openai", "…" + ORG_OPENAI_KEY[-4:])]
    engine = gateway.running.app.state.components.engine
    async with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in (await connection.execute(select(table))).all():
                for secret in (ORG_OPENAI_KEY, gateway.key):  # a provider key, an Asahi key
                    assert secret not in repr(tuple(row)), table.name
        sealed = (await connection.execute(select(provider_credentials.c.sealed))).scalar_one()
    assert ORG_OPENAI_KEY.encode() not in sealed
    audit = (await gateway.running.client.get("/governance/audit", headers=gateway.headers)).json()["data"]
    assert audit[0]["action"] == "provider_key.set" and ORG_OPENAI_KEY not in str(audit[0])


async def test_removing_the_key_goes_back_to_the_operators(gateway: Gateway) -> None:
    gateway.openai.other_keys.add(ORG_OPENAI_KEY)
    await put_key(gateway, gateway.key, "openai", ORG_OPENAI_KEY)
    removed = await gateway.running.client.delete("/governance/providers/openai", headers=gateway.headers)
    assert removed.status_code == 204
    body = {"model": GPT, "messages": [{"role": "user", "content": "back to the operator"}]}
    assert (await gateway.post("/v1/chat/completions", body)).status_code == 200
    assert gateway.openai.last.headers["authorization"] == f"Bearer {gateway.openai.api_key}"


async def test_unknown_providers_and_short_keys_are_refused(gateway: Gateway) -> None:
    assert (await put_key(gateway, gateway.key, "simulator", "sk-whatever-long")).status_code == 404
    assert (await put_key(gateway, gateway.key, "nope", "sk-whatever-long")).status_code == 404
    assert (await put_key(gateway, gateway.key, "openai", "short")).status_code == 400
