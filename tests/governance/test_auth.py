from __future__ import annotations

import asyncio
import time

import pytest

from asahi.governance.auth import presented_key
from tests.conftest import SettingsFactory, start


def test_presented_key_reads_both_sdk_headers() -> None:
    assert presented_key({"authorization": "Bearer abc"}) == "abc"
    assert presented_key({"authorization": "bearer  abc "}) == "abc"
    assert presented_key({"x-api-key": "xyz"}) == "xyz"
    assert presented_key({"authorization": "Basic abc"}) is None
    assert presented_key({}) is None


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_revoked_key_is_refused_on_a_second_instance_within_a_second(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    first, stop_first = await start(settings)
    second, stop_second = await start(settings)
    try:
        org = await first.signup()
        extra = (await first.client.post(
            "/governance/api-keys", headers={"Authorization": f"Bearer {org['api_key']}"},
            json={"name": "victim", "scopes": ["admin"]},
        )).json()
        victim = {"Authorization": f"Bearer {extra['api_key']}"}
        # The second instance has the key cached as valid before the revocation.
        assert (await second.client.get("/governance/api-keys", headers=victim)).status_code == 200
        revoked = await first.client.delete(
            f"/governance/api-keys/{extra['id']}", headers={"Authorization": f"Bearer {org['api_key']}"}
        )
        assert revoked.status_code == 200
        started = time.monotonic()
        status = 200
        while time.monotonic() - started < 1.0:
            status = (await second.client.get("/governance/api-keys", headers=victim)).status_code
            if status == 401:
                break
            await asyncio.sleep(0.02)
        assert status == 401
    finally:
        await stop_second()
        await stop_first()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_key_checks_are_served_from_the_cache(make_settings: SettingsFactory) -> None:
    instance, stop = await start(make_settings())
    try:
        org = await instance.signup()
        headers = {"Authorization": f"Bearer {org['api_key']}"}
        assert (await instance.client.get("/governance/api-keys", headers=headers)).status_code == 200
        auth = instance.app.state.components.auth
        calls = 0
        original = auth._lookup

        async def counting(*args: object) -> object:
            nonlocal calls
            calls += 1
            return await original(*args)

        auth._lookup = counting
        for _ in range(5):
            await auth.authenticate(org["api_key"])
        assert calls == 0
    finally:
        await stop()


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
async def test_malformed_keys_are_refused_without_growing_the_cache(make_settings: SettingsFactory) -> None:
    from asahi.errors import Unauthorized

    instance, stop = await start(make_settings())
    try:
        auth = instance.app.state.components.auth
        for i in range(200):
            with pytest.raises(Unauthorized):
                await auth.authenticate(f"not-a-key-{i}")
        assert len(auth._cache) == 0
    finally:
        await stop()
