from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from asahi.governance.crypto import Sealer, embedded_key


def test_sealed_data_opens_only_for_its_owner_and_key() -> None:
    sealer = Sealer(b"k" * 32)
    sealed = sealer.seal(b"policy", b"org-1")
    assert sealer.open(sealed, b"org-1") == b"policy"
    assert sealer.seal(b"policy", b"org-1") != sealed  # a fresh nonce every time
    with pytest.raises(ValueError, match="authentication"):
        sealer.open(sealed, b"org-2")  # a row moved to another org
    with pytest.raises(ValueError, match="authentication"):
        Sealer(b"j" * 32).open(sealed, b"org-1")
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(ValueError, match="authentication"):
        sealer.open(tampered, b"org-1")


def test_the_embedded_key_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = embedded_key(tmp_path)
    assert embedded_key(tmp_path) == first and len(first) == 32
    assert (tmp_path / "encryption.key").stat().st_mode & 0o077 == 0


def test_workers_starting_together_agree_on_one_embedded_key(tmp_path: Path) -> None:
    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
        keys = set(pool.map(embedded_key, [tmp_path] * 8))
    assert len(keys) == 1 and [p.name for p in tmp_path.iterdir()] == ["encryption.key"]
