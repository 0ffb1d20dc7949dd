"""`asahi keys rotate-encryption`: every sealed value moves to the new key, and opens with it alone afterwards."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from asahi.cli import main
from asahi.governance import accounts
from asahi.governance.credentials import CredentialStore
from asahi.governance.policy import OrgPolicy, PolicyStore
from asahi.governance.rotation import sealer_for
from asahi.settings import load_settings
from asahi.store import db
from asahi.store.migrate import migrate

OLD, NEW = "aa" * 32, "bb" * 32


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "REDIS_URL", "ASAHI_CONFIG", "ASAHI_PREVIOUS_ENCRYPTION_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ASAHI_DATA_DIR", str(tmp_path / "asahi"))
    monkeypatch.setenv("ASAHI_LOG_LEVEL", "WARNING")


async def _seal_some() -> str:
    settings = load_settings()
    engine = db.create_engine(db.database_url(settings))
    try:
        await migrate(engine)
        org, _ = await accounts.create_org_with_key(engine, "rotating", "r@example.com", actor="test")
        sealer = sealer_for(settings)
        await PolicyStore(engine, sealer).put(org.id, OrgPolicy(requests_per_minute=7), "test")
        await CredentialStore(engine, sealer).put(org.id, "openai", "sk-rotate-me-1234", "test")
        return org.id
    finally:
        await engine.dispose()


async def _read(org_id: str) -> tuple[int | None, str | None]:
    settings = load_settings()
    engine = db.create_engine(db.database_url(settings))
    try:
        sealer = sealer_for(settings)
        policy = await PolicyStore(engine, sealer).get(org_id)
        credentials = await CredentialStore(engine, sealer).for_org(org_id)
        return policy.requests_per_minute, credentials.get("openai")
    finally:
        await engine.dispose()


def test_rotation_reseals_everything_with_the_new_key(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ASAHI_ENCRYPTION_KEY", OLD)
    org_id = asyncio.run(_seal_some())
    monkeypatch.setenv("ASAHI_ENCRYPTION_KEY", NEW)
    with pytest.raises(ValueError, match="failed authentication"):
        asyncio.run(_read(org_id))  # the new key alone cannot open the old seals
    monkeypatch.setenv("ASAHI_PREVIOUS_ENCRYPTION_KEY", OLD)
    assert asyncio.run(_read(org_id)) == (7, "sk-rotate-me-1234")  # during the rotation both open
    assert main(["keys", "rotate-encryption"]) == 0
    assert "re-sealed 2 value(s)" in capsys.readouterr().out
    assert main(["keys", "rotate-encryption"]) == 0  # nothing left on the old key
    assert "re-sealed 0 value(s)" in capsys.readouterr().out
    monkeypatch.delenv("ASAHI_PREVIOUS_ENCRYPTION_KEY")
    assert asyncio.run(_read(org_id)) == (7, "sk-rotate-me-1234")
    assert main(["audit", "verify"]) == 0
