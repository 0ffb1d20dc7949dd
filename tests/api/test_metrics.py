from __future__ import annotations

from tests.conftest import Running


async def test_metrics_are_for_the_operator_only(running: Running) -> None:
    org = await running.signup()
    tenant = await running.client.get("/metrics", headers={"Authorization": f"Bearer {org['api_key']}"})
    assert tenant.status_code == 401
    operator = await running.client.get("/metrics", headers={"Authorization": "Bearer test-admin-secret"})
    assert operator.status_code == 200 and "asahi_requests_total" in operator.text
    assert (await running.client.get("/metrics", headers={"X-Admin-Secret": "test-admin-secret"})).status_code == 200
