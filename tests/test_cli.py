from __future__ import annotations

from pathlib import Path

import pytest

from asahi.cli import main
from asahi.routing.learned import LearnedRouter
from asahi.routing.verifier import Verifier
from tests.routing.data import make_data


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("DATABASE_URL", "REDIS_URL", "ASAHI_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ASAHI_DATA_DIR", str(tmp_path / "asahi"))
    monkeypatch.setenv("ASAHI_LOG_LEVEL", "WARNING")
    return tmp_path


def test_keys_create_list_and_revoke(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 0
    assert main(["keys", "create", "--org-name", "acme", "--scopes", "infer,analytics"]) == 0
    first, key = capsys.readouterr().out.strip().splitlines()[-2:]
    assert key.startswith("asahi_") and "scopes=analytics,infer" in first
    org_id = first.split()[0].split("=")[1]
    key_id = first.split()[1].split("=")[1]
    assert main(["keys", "create", "--org-name", "ACME"]) == 0  # the same org, found by name
    assert f"org_id={org_id}" in capsys.readouterr().out
    assert main(["keys", "list", "--org-id", org_id]) == 0
    listed = capsys.readouterr().out
    assert key_id in listed and key not in listed
    assert main(["keys", "revoke", "--org-id", org_id, key_id]) == 0
    assert main(["keys", "list", "--org-id", org_id]) == 0
    assert f"{key_id}\t" in (out := capsys.readouterr().out) and "revoked" in out


def test_bad_input_is_a_clear_error_not_a_traceback(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["keys", "create", "--org-name", "x", "--scopes", "root"]) == 2
    assert "unknown scopes" in capsys.readouterr().err
    assert main(["keys", "revoke", "--org-id", "nope", "nokey"]) == 2
    monkeypatch.setenv("ASAHI_ENCRYPTION_KEY", "abc")
    assert main(["migrate"]) == 2
    assert "ASAHI_ENCRYPTION_KEY" in capsys.readouterr().err


def test_router_train_writes_a_loadable_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = make_data(tmp_path / "data", rows=12)
    assert main(["router", "train", "--data", str(data), "--out", str(tmp_path / "model.npz")]) == 0
    assert LearnedRouter.load(tmp_path / "model.npz").dimension == 384
    assert Verifier.load(tmp_path / "verifier.json").bias != 0.0  # the cascade's check, trained beside it
    output = capsys.readouterr().out
    assert "model.npz" in output and "cascade verifier" in output
